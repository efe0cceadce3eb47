using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TierKv.Engine.Math;

/// <summary>
/// Row-wise kernels of the transformer. Each works on one row with a reduction order fixed by the row's length only,
/// so its result never depends on how many rows are processed together (batch invariance).
/// </summary>
public static unsafe class KernelOps
{
    /// <summary>
    /// RMSNorm of one row: <c>y = x / sqrt(mean(x²) + eps) · w</c>. The sum of squares is one 16-lane FMA chain
    /// over the row followed by a fixed-order lane sum. <paramref name="n"/> must be a multiple of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(float* x, float* w, float* y, int n, float eps)
    {
        var acc = Vector512<float>.Zero;
        for (int i = 0; i < n; i += 16)
        {
            var v = Vector512.Load(x + i);
            acc = Vector512.FusedMultiplyAdd(v, v, acc);
        }

        float ss = Vector512.Sum(acc);
        float r = 1f / MathF.Sqrt((ss / n) + eps);
        var rv = Vector512.Create(r);
        for (int i = 0; i < n; i += 16)
        {
            (Vector512.Load(x + i) * rv * Vector512.Load(w + i)).Store(y + i);
        }
    }

    /// <summary>Reference RMSNorm with the same operation order, scalar (tests).</summary>
    public static void RmsNormReference(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, float eps)
    {
        Span<float> lanes = stackalloc float[16];
        lanes.Clear();
        for (int i = 0; i < x.Length; i++)
        {
            lanes[i % 16] = MathF.FusedMultiplyAdd(x[i], x[i], lanes[i % 16]);
        }

        float ss = Vector512.Sum(Vector512.Create((ReadOnlySpan<float>)lanes));
        float r = 1f / MathF.Sqrt((ss / x.Length) + eps);
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] * r * w[i];
        }
    }

    /// <summary>
    /// Rotary embedding (Hugging Face "rotate half" convention) of one head in place: pairs (i, i + d/2) rotate by
    /// <c>position · theta^(-2i/d)</c>; <paramref name="cos"/> and <paramref name="sin"/> hold the position's d/2 angles.
    /// </summary>
    public static void Rope(float* head, float* cos, float* sin, int headDim)
    {
        int half = headDim / 2;
        for (int i = 0; i < half; i++)
        {
            float a = head[i], b = head[i + half];
            head[i] = (a * cos[i]) - (b * sin[i]);
            head[i + half] = (b * cos[i]) + (a * sin[i]);
        }
    }

    /// <summary>SwiGLU of one row: <c>out = silu(gate) · up</c> with <c>silu(g) = g / (1 + e^-g)</c>.</summary>
    public static void SwiGlu(float* gate, float* up, float* output, int n)
    {
        var g = new ReadOnlySpan<float>(gate, n);
        var o = new Span<float>(output, n);
        TensorPrimitives.Negate(g, o);
        TensorPrimitives.Exp(o, o);
        TensorPrimitives.Add(o, 1f, o);
        TensorPrimitives.Divide(g, o, o);
        TensorPrimitives.Multiply(o, new ReadOnlySpan<float>(up, n), o);
    }
}
