using System.Runtime.InteropServices;
using TierKv.Engine.Cache;
using TierKv.Engine.Math;
using TierKv.Keys;

namespace TierKv.Engine.Model;

/// <summary>
/// Decoder-only Llama-family transformer, float32 on the CPU: RMSNorm, rotary embeddings, grouped-query attention
/// over a paged KV cache, SwiGLU, optional q/k/v biases. <see cref="Forward"/> runs a batched prefill or a decode
/// step through the same kernels; every kernel is batch invariant, so logits computed after loading a cached prefix
/// equal, bit for bit, logits computed from scratch.
/// </summary>
public sealed unsafe class Transformer : IDisposable
{
    private readonly float[] _cos;
    private readonly float[] _sin;
    private readonly bool _ownsWeights;

    /// <summary>Wraps loaded weights; the transformer disposes them when <paramref name="ownsWeights"/>.</summary>
    public Transformer(ModelWeights weights, bool ownsWeights = true)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Weights = weights;
        _ownsWeights = ownsWeights;
        var c = weights.Config;
        int half = c.HeadDim / 2;
        _cos = new float[(long)c.MaxPositions * half];
        _sin = new float[(long)c.MaxPositions * half];
        for (int i = 0; i < half; i++)
        {
            double freq = System.Math.Pow(c.RopeTheta, -2.0 * i / c.HeadDim);
            for (int p = 0; p < c.MaxPositions; p++)
            {
                double angle = p * freq;
                _cos[((long)p * half) + i] = (float)System.Math.Cos(angle);
                _sin[((long)p * half) + i] = (float)System.Math.Sin(angle);
            }
        }

        Layout = c.KvLayout();
    }

    /// <summary>The weights.</summary>
    public ModelWeights Weights { get; }

    /// <summary>The model's hyper-parameters.</summary>
    public ModelConfig Config => Weights.Config;

    /// <summary>The KV layout TierKV stores this model's cache under.</summary>
    public KvLayout Layout { get; }

    /// <summary>Creates a page pool able to hold <paramref name="tokens"/> positions in total.</summary>
    public KvPagePool CreatePagePool(int tokens) => new(Config, (tokens + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens);

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions <c>[seq.Length, seq.Length + n)</c>, writes their K and V into
    /// <paramref name="seq"/>'s pages and the logits into <paramref name="logits"/>: the last row's
    /// (<see cref="ModelConfig.VocabSize"/> floats) or every row's (n × vocab). Positions before
    /// <c>seq.Length</c> must hold valid KV (computed, or loaded by a connector that
    /// <paramref name="hooks"/> waits for layer by layer).
    /// </summary>
    public void Forward(KvSequence seq, ReadOnlySpan<int> tokens, Span<float> logits, IKvLayerHooks? hooks = null)
    {
        ArgumentNullException.ThrowIfNull(seq);
        var c = Config;
        int n = tokens.Length;
        int start = seq.Length;
        if (n == 0)
        {
            throw new ArgumentException("Forward needs at least one token.", nameof(tokens));
        }

        if (start + n > c.MaxPositions)
        {
            throw new ArgumentException($"The sequence would reach {start + n} positions; the model supports {c.MaxPositions}.", nameof(tokens));
        }

        bool allRows = logits.Length == (long)n * c.VocabSize;
        if (!allRows && logits.Length != c.VocabSize)
        {
            throw new ArgumentException($"logits must hold {c.VocabSize} (last row) or {(long)n * c.VocabSize} (every row) floats, not {logits.Length}.", nameof(logits));
        }

        foreach (int t in tokens)
        {
            if ((uint)t >= (uint)c.VocabSize)
            {
                throw new ArgumentException($"Token id {t} is outside the vocabulary of {c.VocabSize}.", nameof(tokens));
            }
        }

        seq.EnsureCapacity(start + n);
        int d = c.Hidden;
        var layer0 = Weights.Layers[0];
        int qkvStride = layer0.Qkv.PaddedN;
        int guStride = layer0.GateUp.PaddedN;
        int outStride = System.Math.Max(layer0.Output.PaddedN, layer0.Down.PaddedN);
        int f = c.Intermediate;
        using var buffers = new ForwardBuffers(n, d, qkvStride, c.QDim, outStride, guStride, f);
        float* x = buffers.X, h = buffers.H, qkv = buffers.Qkv, att = buffers.Att, tmp = buffers.Tmp, gu = buffers.GateUp, act = buffers.Act;

        fixed (float* emb = Weights.Embedding)
        {
            for (int i = 0; i < n; i++)
            {
                Buffer.MemoryCopy(emb + ((long)tokens[i] * d), x + ((long)i * d), d * sizeof(float), d * sizeof(float));
            }
        }

        for (int l = 0; l < c.Layers; l++)
        {
            var w = Weights.Layers[l];
            fixed (float* norm = w.AttentionNorm)
            {
                for (int i = 0; i < n; i++)
                {
                    KernelOps.RmsNorm(x + ((long)i * d), norm, h + ((long)i * d), d, c.RmsEps);
                }
            }

            Gemm.Multiply(h, n, d, w.Qkv, qkv, qkvStride);
            if (w.QkvBias is { } bias)
            {
                fixed (float* b = bias)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var row = new Span<float>(qkv + ((long)i * qkvStride), bias.Length);
                        System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(b, bias.Length), row);
                    }
                }
            }

            WriteKv(seq, l, qkv, qkvStride, start, n);
            hooks?.SaveLayer(l);
            hooks?.WaitForLayer(l);
            RunAttention(seq, l, qkv, qkvStride, att, start, n);

            Gemm.Multiply(att, n, c.QDim, w.Output, tmp, outStride);
            AddRows(x, d, tmp, outStride, n);

            fixed (float* norm = w.MlpNorm)
            {
                for (int i = 0; i < n; i++)
                {
                    KernelOps.RmsNorm(x + ((long)i * d), norm, h + ((long)i * d), d, c.RmsEps);
                }
            }

            Gemm.Multiply(h, n, d, w.GateUp, gu, guStride);
            for (int i = 0; i < n; i++)
            {
                float* row = gu + ((long)i * guStride);
                KernelOps.SwiGlu(row, row + f, act + ((long)i * f), f);
            }

            Gemm.Multiply(act, n, f, w.Down, tmp, outStride);
            AddRows(x, d, tmp, outStride, n);
        }

        seq.Length = start + n;
        ComputeLogits(x, h, n, allRows, logits);
    }

    private void ComputeLogits(float* x, float* h, int n, bool allRows, Span<float> logits)
    {
        var c = Config;
        int d = c.Hidden;
        int first = allRows ? 0 : n - 1;
        int rows = n - first;
        fixed (float* norm = Weights.FinalNorm)
        {
            for (int i = first; i < n; i++)
            {
                KernelOps.RmsNorm(x + ((long)i * d), norm, h + ((long)(i - first) * d), d, c.RmsEps);
            }
        }

        var lm = Weights.LmHead;
        int stride = lm.PaddedN;
        float* outBuf = (float*)NativeMemory.AlignedAlloc((nuint)((long)rows * stride * sizeof(float)), 64);
        try
        {
            Gemm.Multiply(h, rows, d, lm, outBuf, stride);
            for (int r = 0; r < rows; r++)
            {
                new ReadOnlySpan<float>(outBuf + ((long)r * stride), c.VocabSize).CopyTo(logits.Slice(r * c.VocabSize, c.VocabSize));
            }
        }
        finally
        {
            NativeMemory.AlignedFree(outBuf);
        }
    }

    private void WriteKv(KvSequence seq, int layer, float* qkv, int stride, int start, int n)
    {
        var c = Config;
        int hd = c.HeadDim, half = hd / 2;
        const int pt = KvPagePool.PageTokens;
        var pool = seq.Pool;
        fixed (float* cosAll = _cos, sinAll = _sin)
        {
            for (int i = 0; i < n; i++)
            {
                int pos = start + i;
                float* row = qkv + ((long)i * stride);
                float* cos = cosAll + ((long)pos * half), sin = sinAll + ((long)pos * half);
                for (int hh = 0; hh < c.Heads + c.KvHeads; hh++)
                {
                    KernelOps.Rope(row + (hh * hd), cos, sin, hd);
                }

                float* page = pool.LayerPage(seq.PageOf(pos), layer);
                int slot = pos % pt;
                float* k = row + c.QDim;
                float* v = k + c.KvDim;
                for (int g = 0; g < c.KvHeads; g++)
                {
                    float* kt = page + (g * hd * pt) + slot;
                    for (int dd = 0; dd < hd; dd++)
                    {
                        kt[dd * pt] = k[(g * hd) + dd];
                    }

                    Buffer.MemoryCopy(v + (g * hd), page + pool.ValueOffset + (((g * pt) + slot) * hd), hd * sizeof(float), hd * sizeof(float));
                }
            }
        }
    }

    private void RunAttention(KvSequence seq, int layer, float* qkv, int stride, float* att, int start, int n)
    {
        var c = Config;
        var job = new AttentionJob(seq, layer, c, (nint)qkv, stride, (nint)att, start, n);
        int items = job.Items;
        if (items == 1 || EngineThreads.Count == 1)
        {
            nint scratch = job.RentHandle();
            try
            {
                for (int i = 0; i < items; i++)
                {
                    job.Run(i, (float*)scratch);
                }
            }
            finally
            {
                job.Free(scratch);
            }

            return;
        }

        Parallel.For(0, items, EngineThreads.Options, job.RentHandle, job.Body, job.Free);
    }

    // Work items are (block of query rows, KV head); a block's rows share each page of keys and values.
    private sealed class AttentionJob(KvSequence seq, int layer, ModelConfig c, nint qkv, int stride, nint att, int start, int n)
    {
        private readonly int _blocks = (n + Attention.BlockRows - 1) / Attention.BlockRows;

        public int Items => _blocks * c.KvHeads;

        public nint RentHandle() =>
            (nint)NativeMemory.AlignedAlloc((nuint)(Attention.ScratchFloats(Attention.BlockRows, c.GroupSize, c.HeadDim, seq.CapacityTokens) * sizeof(float)), 64);

        public nint Body(int item, ParallelLoopState state, nint scratch)
        {
            Run(item, (float*)scratch);
            return scratch;
        }

        public void Free(nint scratch) => NativeMemory.AlignedFree((void*)scratch);

        public void Run(int item, float* scratch)
        {
            int b = item / c.KvHeads, g = item % c.KvHeads;
            int first = b * Attention.BlockRows;
            int rows = System.Math.Min(Attention.BlockRows, n - first);
            float* q = (float*)qkv + ((long)first * stride) + (g * c.GroupSize * c.HeadDim);
            float* o = (float*)att + ((long)first * c.QDim) + (g * c.GroupSize * c.HeadDim);
            Attention.Block(seq, layer, g, c.GroupSize, c.HeadDim, q, stride, o, c.QDim, start + first, rows, scratch);
        }
    }

    private static void AddRows(float* x, int d, float* y, int yStride, int n)
    {
        for (int i = 0; i < n; i++)
        {
            var row = new Span<float>(x + ((long)i * d), d);
            System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(y + ((long)i * yStride), d), row);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsWeights)
        {
            Weights.Dispose();
        }
    }
}
