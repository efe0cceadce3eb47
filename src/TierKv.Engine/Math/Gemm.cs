using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TierKv.Engine.Math;

/// <summary>
/// Blocked float32 matrix multiply <c>C = A · B</c> with B a <see cref="PackedMatrix"/>.
/// <para>
/// Batch invariance: every output element is one fused multiply-add chain over k = 0, 1, ..., K-1 starting from
/// +0, whatever the number of rows, the blocking or the thread split. K-blocks store the partial sum to C and reload
/// it, which is exact in float32, and FMA rounds once per step on every path (512-bit, 256-bit, scalar), so a row's
/// result is the same bits in a prefill of 5,000 rows and in a decode of one.
/// </para>
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Columns per packed panel (two 512-bit vectors of float32).</summary>
    public const int PanelWidth = 32;

    /// <summary>Rows per microkernel call.</summary>
    public const int RowsPerKernel = 8;

    /// <summary>Depth of one K-block: a 32-column panel of it (32 KiB) stays in L1/L2 across the row blocks; tuned on Zen 4.</summary>
    public static int KBlock { get; set; } = 256;

    /// <summary>Rows of A kept in L2 per K-block (MC × KC × 4 bytes = 192 KiB).</summary>
    public static int MBlock { get; set; } = 192;

    /// <summary>
    /// Computes <c>C[m, 0..PaddedN) = A[m, 0..K) · B</c> for <paramref name="m"/> rows. A is row-major with stride
    /// <paramref name="lda"/>; C is row-major with stride <paramref name="ldc"/> ≥ <see cref="PackedMatrix.PaddedN"/>.
    /// Work is split across <paramref name="threads"/> threads by column panels.
    /// </summary>
    public static void Multiply(float* a, int m, int lda, PackedMatrix b, float* c, int ldc, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (lda < b.K || ldc < b.PaddedN)
        {
            throw new ArgumentException($"Strides too small: lda {lda} < K {b.K} or ldc {ldc} < padded N {b.PaddedN}.");
        }

        if (m <= 0)
        {
            return;
        }

        int t = threads <= 0 ? EngineThreads.Count : threads;
        int panels = b.Panels;
        // Small products are not worth a fork; the split never changes results, only who computes them.
        if (t <= 1 || panels < 2 || ((long)m * b.K * b.PaddedN) < 1 << 16)
        {
            MultiplyPanels(a, m, lda, b, c, ldc, 0, panels);
            return;
        }

        int parts = System.Math.Min(panels, t * 4);
        var job = new Job(a, m, lda, b, c, ldc, panels, parts);
        Parallel.For(0, parts, EngineThreads.Options, job.Run);
    }

    private sealed class Job(float* a, int m, int lda, PackedMatrix b, float* c, int ldc, int panels, int parts)
    {
        public void Run(int part)
        {
            int p0 = (int)((long)panels * part / parts);
            int p1 = (int)((long)panels * (part + 1) / parts);
            MultiplyPanels(a, m, lda, b, c, ldc, p0, p1);
        }
    }

    /// <summary>Single-threaded product restricted to panels [p0, p1).</summary>
    internal static void MultiplyPanels(float* a, int m, int lda, PackedMatrix b, float* c, int ldc, int p0, int p1)
    {
        int k = b.K;
        bool wide = Vector512.IsHardwareAccelerated;
        for (int pc = 0; pc < k; pc += KBlock)
        {
            int kc = System.Math.Min(KBlock, k - pc);
            bool accumulate = pc > 0;
            for (int ic = 0; ic < m; ic += MBlock)
            {
                int mc = System.Math.Min(MBlock, m - ic);
                for (int p = p0; p < p1; p++)
                {
                    float* bp = b.Panel(p) + ((long)pc * PanelWidth);
                    float* cp = c + ((long)p * PanelWidth);
                    int ir = 0;
                    if (wide)
                    {
                        for (; ir + RowsPerKernel <= mc; ir += RowsPerKernel)
                        {
                            long row = ic + ir;
                            Kernel8(a + (row * lda) + pc, lda, bp, kc, cp + (row * ldc), ldc, accumulate);
                        }
                    }

                    for (; ir < mc; ir++)
                    {
                        long row = ic + ir;
                        Kernel1(a + (row * lda) + pc, bp, kc, cp + (row * ldc), accumulate);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8(float* a, int lda, float* b, int kc, float* c, int ldc, bool accumulate)
    {
        float* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda;
        float* c0 = c, c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc, c6 = c5 + ldc, c7 = c6 + ldc;
        Vector512<float> x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61, x70, x71;
        if (accumulate)
        {
            x00 = Vector512.Load(c0); x01 = Vector512.Load(c0 + 16);
            x10 = Vector512.Load(c1); x11 = Vector512.Load(c1 + 16);
            x20 = Vector512.Load(c2); x21 = Vector512.Load(c2 + 16);
            x30 = Vector512.Load(c3); x31 = Vector512.Load(c3 + 16);
            x40 = Vector512.Load(c4); x41 = Vector512.Load(c4 + 16);
            x50 = Vector512.Load(c5); x51 = Vector512.Load(c5 + 16);
            x60 = Vector512.Load(c6); x61 = Vector512.Load(c6 + 16);
            x70 = Vector512.Load(c7); x71 = Vector512.Load(c7 + 16);
        }
        else
        {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector512<float>.Zero;
            x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = Vector512<float>.Zero;
        }

        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            b += PanelWidth;
            var v = Vector512.Create(a0[k]);
            x00 = Vector512.FusedMultiplyAdd(v, b0, x00); x01 = Vector512.FusedMultiplyAdd(v, b1, x01);
            v = Vector512.Create(a1[k]);
            x10 = Vector512.FusedMultiplyAdd(v, b0, x10); x11 = Vector512.FusedMultiplyAdd(v, b1, x11);
            v = Vector512.Create(a2[k]);
            x20 = Vector512.FusedMultiplyAdd(v, b0, x20); x21 = Vector512.FusedMultiplyAdd(v, b1, x21);
            v = Vector512.Create(a3[k]);
            x30 = Vector512.FusedMultiplyAdd(v, b0, x30); x31 = Vector512.FusedMultiplyAdd(v, b1, x31);
            v = Vector512.Create(a4[k]);
            x40 = Vector512.FusedMultiplyAdd(v, b0, x40); x41 = Vector512.FusedMultiplyAdd(v, b1, x41);
            v = Vector512.Create(a5[k]);
            x50 = Vector512.FusedMultiplyAdd(v, b0, x50); x51 = Vector512.FusedMultiplyAdd(v, b1, x51);
            v = Vector512.Create(a6[k]);
            x60 = Vector512.FusedMultiplyAdd(v, b0, x60); x61 = Vector512.FusedMultiplyAdd(v, b1, x61);
            v = Vector512.Create(a7[k]);
            x70 = Vector512.FusedMultiplyAdd(v, b0, x70); x71 = Vector512.FusedMultiplyAdd(v, b1, x71);
        }

        x00.Store(c0); x01.Store(c0 + 16);
        x10.Store(c1); x11.Store(c1 + 16);
        x20.Store(c2); x21.Store(c2 + 16);
        x30.Store(c3); x31.Store(c3 + 16);
        x40.Store(c4); x41.Store(c4 + 16);
        x50.Store(c5); x51.Store(c5 + 16);
        x60.Store(c6); x61.Store(c6 + 16);
        x70.Store(c7); x71.Store(c7 + 16);
    }

    // One row, 256-bit vectors: the same per-element FMA chain as Kernel8, so remainder rows and decode match bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel1(float* a, float* b, int kc, float* c, bool accumulate)
    {
        Vector256<float> x0, x1, x2, x3;
        if (accumulate)
        {
            x0 = Vector256.Load(c); x1 = Vector256.Load(c + 8); x2 = Vector256.Load(c + 16); x3 = Vector256.Load(c + 24);
        }
        else
        {
            x0 = x1 = x2 = x3 = Vector256<float>.Zero;
        }

        for (int k = 0; k < kc; k++)
        {
            var v = Vector256.Create(a[k]);
            x0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b), x0);
            x1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 8), x1);
            x2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 16), x2);
            x3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 24), x3);
            b += PanelWidth;
        }

        x0.Store(c); x1.Store(c + 8); x2.Store(c + 16); x3.Store(c + 24);
    }

    /// <summary>
    /// Reference product with scalar fused multiply-adds in the same order (tests compare it bit for bit).
    /// </summary>
    public static void MultiplyReference(ReadOnlySpan<float> a, int m, PackedMatrix b, Span<float> c)
    {
        ArgumentNullException.ThrowIfNull(b);
        for (int i = 0; i < m; i++)
        {
            for (int n = 0; n < b.N; n++)
            {
                float acc = 0;
                for (int k = 0; k < b.K; k++)
                {
                    acc = MathF.FusedMultiplyAdd(a[(i * b.K) + k], b[k, n], acc);
                }

                c[(i * b.PaddedN) + n] = acc;
            }
        }
    }
}
