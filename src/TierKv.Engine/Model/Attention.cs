using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TierKv.Engine.Cache;

namespace TierKv.Engine.Model;

/// <summary>
/// Causal grouped-query attention over a paged KV cache, for a block of consecutive query rows and the query heads
/// sharing one KV head. Each page of keys and values is read once per block (from L1/L2) instead of once per row.
/// <para>
/// Batch invariance: a row's arithmetic is the same whatever block it is in. Its score for a key is one FMA chain
/// over the head dimension; its softmax runs over its own padded length with a fixed summation order; its output
/// accumulates values in position order (partial sums pass through memory between pages, which is exact). So a row
/// gives the same bits in a prefill of 5,000 rows, in a decode step, or in a suffix after a loaded prefix.
/// </para>
/// </summary>
internal static unsafe class Attention
{
    /// <summary>Query rows per block.</summary>
    public const int BlockRows = 8;

    /// <summary>Floats of scratch a block needs for sequences of up to <paramref name="maxTokens"/> positions.</summary>
    public static long ScratchFloats(int rows, int group, int headDim, int maxTokens) =>
        (long)rows * group * (RoundUp(maxTokens) + headDim + 1);

    private static int RoundUp(int tokens) => (tokens + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens * KvPagePool.PageTokens;

    /// <summary>One query row (tests and decode).</summary>
    public static void Row(KvSequence seq, int layer, int kvHead, int group, int headDim, float* q, float* output, int position, float* scratch) =>
        Block(seq, layer, kvHead, group, headDim, q, 0, output, 0, position, 1, scratch);

    /// <summary>
    /// Attention of <paramref name="rows"/> query rows at positions <c>firstPosition + r</c> for the
    /// <paramref name="group"/> query heads of KV head <paramref name="kvHead"/>. Row r's heads start at
    /// <c>q + r·qStride</c> (contiguous heads) and its outputs at <c>output + r·outStride</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(KvSequence seq, int layer, int kvHead, int group, int headDim, float* q, int qStride, float* output, int outStride, int firstPosition, int rows, float* scratch)
    {
        const int pt = KvPagePool.PageTokens;
        var pool = seq.Pool;
        int pairs = rows * group;
        int lastCtx = firstPosition + rows;
        int pagesMax = (lastCtx + pt - 1) / pt;
        int padMax = pagesMax * pt;
        float* scores = scratch;
        float* acc = scratch + ((long)pairs * padMax);
        var scaleV = Vector512.Create(1f / MathF.Sqrt(headDim));
        int kOffset = kvHead * headDim * pt;
        int vOffset = pool.ValueOffset + (kvHead * pt * headDim);

        // Scores: each page's keys stay in L1 while every (row, head) pair of the block uses them. Four pairs by two
        // pages keep eight independent FMA chains in flight, each the same chain a lone row would run.
        int j0 = 0;
        for (; j0 + 4 <= pagesMax && pairs >= 4; j0 += 4)
        {
            float* k0 = pool.LayerPage(seq.PageOf(j0 * pt), layer) + kOffset;
            float* k1 = pool.LayerPage(seq.PageOf((j0 + 1) * pt), layer) + kOffset;
            float* k2 = pool.LayerPage(seq.PageOf((j0 + 2) * pt), layer) + kOffset;
            float* k3 = pool.LayerPage(seq.PageOf((j0 + 3) * pt), layer) + kOffset;
            int p = 0;
            for (; p + 4 <= pairs; p += 4)
            {
                float* q0 = Query(q, qStride, group, headDim, p), q1 = Query(q, qStride, group, headDim, p + 1);
                float* q2 = Query(q, qStride, group, headDim, p + 2), q3 = Query(q, qStride, group, headDim, p + 3);
                Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
                Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
                Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
                Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
                for (int d = 0; d < headDim; d++)
                {
                    int off = d * pt;
                    var x0 = Vector512.Load(k0 + off);
                    var x1 = Vector512.Load(k1 + off);
                    var x2 = Vector512.Load(k2 + off);
                    var x3 = Vector512.Load(k3 + off);
                    var w = Vector512.Create(q0[d]);
                    a00 = Vector512.FusedMultiplyAdd(w, x0, a00);
                    a01 = Vector512.FusedMultiplyAdd(w, x1, a01);
                    a02 = Vector512.FusedMultiplyAdd(w, x2, a02);
                    a03 = Vector512.FusedMultiplyAdd(w, x3, a03);
                    w = Vector512.Create(q1[d]);
                    a10 = Vector512.FusedMultiplyAdd(w, x0, a10);
                    a11 = Vector512.FusedMultiplyAdd(w, x1, a11);
                    a12 = Vector512.FusedMultiplyAdd(w, x2, a12);
                    a13 = Vector512.FusedMultiplyAdd(w, x3, a13);
                    w = Vector512.Create(q2[d]);
                    a20 = Vector512.FusedMultiplyAdd(w, x0, a20);
                    a21 = Vector512.FusedMultiplyAdd(w, x1, a21);
                    a22 = Vector512.FusedMultiplyAdd(w, x2, a22);
                    a23 = Vector512.FusedMultiplyAdd(w, x3, a23);
                    w = Vector512.Create(q3[d]);
                    a30 = Vector512.FusedMultiplyAdd(w, x0, a30);
                    a31 = Vector512.FusedMultiplyAdd(w, x1, a31);
                    a32 = Vector512.FusedMultiplyAdd(w, x2, a32);
                    a33 = Vector512.FusedMultiplyAdd(w, x3, a33);
                }

                float* s0 = scores + ((long)p * padMax) + (j0 * pt);
                Store4(s0, a00, a01, a02, a03, scaleV);
                Store4(s0 + padMax, a10, a11, a12, a13, scaleV);
                Store4(s0 + (2L * padMax), a20, a21, a22, a23, scaleV);
                Store4(s0 + (3L * padMax), a30, a31, a32, a33, scaleV);
            }

            for (; p < pairs; p++)
            {
                float* qp = Query(q, qStride, group, headDim, p);
                float* dst = scores + ((long)p * padMax) + (j0 * pt);
                ScorePage(qp, k0, headDim, scaleV, dst);
                ScorePage(qp, k1, headDim, scaleV, dst + pt);
                ScorePage(qp, k2, headDim, scaleV, dst + (2 * pt));
                ScorePage(qp, k3, headDim, scaleV, dst + (3 * pt));
            }
        }

        for (; j0 + 2 <= pagesMax; j0 += 2)
        {
            float* ka = pool.LayerPage(seq.PageOf(j0 * pt), layer) + kOffset;
            float* kb = pool.LayerPage(seq.PageOf((j0 + 1) * pt), layer) + kOffset;
            int p = 0;
            for (; p + 4 <= pairs; p += 4)
            {
                float* q0 = Query(q, qStride, group, headDim, p), q1 = Query(q, qStride, group, headDim, p + 1);
                float* q2 = Query(q, qStride, group, headDim, p + 2), q3 = Query(q, qStride, group, headDim, p + 3);
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                for (int d = 0; d < headDim; d++)
                {
                    var k = Vector512.Load(ka + (d * pt));
                    var l = Vector512.Load(kb + (d * pt));
                    var x = Vector512.Create(q0[d]);
                    a0 = Vector512.FusedMultiplyAdd(x, k, a0);
                    b0 = Vector512.FusedMultiplyAdd(x, l, b0);
                    x = Vector512.Create(q1[d]);
                    a1 = Vector512.FusedMultiplyAdd(x, k, a1);
                    b1 = Vector512.FusedMultiplyAdd(x, l, b1);
                    x = Vector512.Create(q2[d]);
                    a2 = Vector512.FusedMultiplyAdd(x, k, a2);
                    b2 = Vector512.FusedMultiplyAdd(x, l, b2);
                    x = Vector512.Create(q3[d]);
                    a3 = Vector512.FusedMultiplyAdd(x, k, a3);
                    b3 = Vector512.FusedMultiplyAdd(x, l, b3);
                }

                float* s0 = scores + ((long)p * padMax) + (j0 * pt);
                (a0 * scaleV).Store(s0);
                (b0 * scaleV).Store(s0 + pt);
                (a1 * scaleV).Store(s0 + padMax);
                (b1 * scaleV).Store(s0 + padMax + pt);
                (a2 * scaleV).Store(s0 + (2L * padMax));
                (b2 * scaleV).Store(s0 + (2L * padMax) + pt);
                (a3 * scaleV).Store(s0 + (3L * padMax));
                (b3 * scaleV).Store(s0 + (3L * padMax) + pt);
            }

            for (; p < pairs; p++)
            {
                ScorePage(Query(q, qStride, group, headDim, p), ka, headDim, scaleV, scores + ((long)p * padMax) + (j0 * pt));
                ScorePage(Query(q, qStride, group, headDim, p), kb, headDim, scaleV, scores + ((long)p * padMax) + ((j0 + 1) * pt));
            }
        }

        for (; j0 < pagesMax; j0++)
        {
            float* kt = pool.LayerPage(seq.PageOf(j0 * pt), layer) + kOffset;
            for (int p = 0; p < pairs; p++)
            {
                ScorePage(Query(q, qStride, group, headDim, p), kt, headDim, scaleV, scores + ((long)p * padMax) + (j0 * pt));
            }
        }

        // Softmax of each pair over its own positions only.
        for (int p = 0; p < pairs; p++)
        {
            int ctx = firstPosition + (p / group) + 1;
            int padded = RoundUp(ctx);
            float* s = scores + ((long)p * padMax);
            for (int t = ctx; t < padded; t++)
            {
                s[t] = float.NegativeInfinity;
            }

            var span = new Span<float>(s, padded);
            float max = TensorPrimitives.Max((ReadOnlySpan<float>)span);
            TensorPrimitives.Subtract(span, max, span);
            TensorPrimitives.Exp(span, span);
            var sum = Vector512<float>.Zero;
            for (int t = 0; t < padded; t += pt)
            {
                sum += Vector512.Load(s + t);
            }

            new Span<float>(acc + ((long)p * headDim), headDim).Clear();
            Inverse(scratch, pairs, padMax, headDim)[p] = 1f / Vector512.Sum(sum);
        }

        // Values: each page's values stay in L1 while every pair accumulates its weighted rows, in position order.
        for (int j = 0; j < pagesMax; j++)
        {
            float* vPage = pool.LayerPage(seq.PageOf(j * pt), layer) + vOffset;
            int p = 0;
            while (p < pairs)
            {
                int ctx = firstPosition + (p / group) + 1;
                int valid = System.Math.Min(pt, ctx - (j * pt));
                if (valid <= 0)
                {
                    p++;
                    continue;
                }

                // Four (or two) pairs with the same number of valid positions share each value load.
                if (headDim % 64 == 0 && p + 4 <= pairs && Valid(firstPosition, group, p + 3, j) == valid)
                {
                    AccumulateFour(scores + ((long)p * padMax) + (j * pt), padMax, acc + ((long)p * headDim), headDim, vPage, valid);
                    p += 4;
                    continue;
                }

                // Two pairs with the same number of valid positions share each value load.
                bool twin = headDim % 64 == 0 && p + 1 < pairs && System.Math.Min(pt, firstPosition + ((p + 1) / group) + 1 - (j * pt)) == valid;
                float* s = scores + ((long)p * padMax) + (j * pt);
                float* o = acc + ((long)p * headDim);
                if (twin)
                {
                    float* s2 = s + padMax;
                    float* o2 = o + headDim;
                    for (int d0 = 0; d0 < headDim; d0 += 32)
                    {
                        var x0 = Vector512.Load(o + d0);
                        var x1 = Vector512.Load(o + d0 + 16);
                        var y0 = Vector512.Load(o2 + d0);
                        var y1 = Vector512.Load(o2 + d0 + 16);
                        float* v = vPage + d0;
                        for (int t = 0; t < valid; t++, v += headDim)
                        {
                            var v0 = Vector512.Load(v);
                            var v1 = Vector512.Load(v + 16);
                            var w = Vector512.Create(s[t]);
                            var w2 = Vector512.Create(s2[t]);
                            x0 = Vector512.FusedMultiplyAdd(w, v0, x0);
                            x1 = Vector512.FusedMultiplyAdd(w, v1, x1);
                            y0 = Vector512.FusedMultiplyAdd(w2, v0, y0);
                            y1 = Vector512.FusedMultiplyAdd(w2, v1, y1);
                        }

                        x0.Store(o + d0);
                        x1.Store(o + d0 + 16);
                        y0.Store(o2 + d0);
                        y1.Store(o2 + d0 + 16);
                    }

                    p += 2;
                    continue;
                }

                for (int d0 = 0; d0 < headDim; d0 += 16)
                {
                    var o0 = Vector512.Load(o + d0);
                    float* v = vPage + d0;
                    for (int t = 0; t < valid; t++, v += headDim)
                    {
                        o0 = Vector512.FusedMultiplyAdd(Vector512.Create(s[t]), Vector512.Load(v), o0);
                    }

                    o0.Store(o + d0);
                }

                p++;
            }
        }

        for (int p = 0; p < pairs; p++)
        {
            int r = p / group, h = p % group;
            var inv = Vector512.Create(Inverse(scratch, pairs, padMax, headDim)[p]);
            float* o = acc + ((long)p * headDim);
            float* dst = output + ((long)r * outStride) + (h * headDim);
            for (int d = 0; d < headDim; d += 16)
            {
                (Vector512.Load(o + d) * inv).Store(dst + d);
            }
        }
    }

    private static int Valid(int firstPosition, int group, int pair, int page) =>
        System.Math.Min(KvPagePool.PageTokens, firstPosition + (pair / group) + 1 - (page * KvPagePool.PageTokens));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(float* s, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, Vector512<float> scale)
    {
        (a * scale).Store(s);
        (b * scale).Store(s + KvPagePool.PageTokens);
        (c * scale).Store(s + (2 * KvPagePool.PageTokens));
        (d * scale).Store(s + (3 * KvPagePool.PageTokens));
    }

    // Four pairs x 64 dimensions in sixteen registers: each value row is loaded once for the four pairs.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateFour(float* s, int padMax, float* o, int headDim, float* vPage, int valid)
    {
        float* s1 = s + padMax, s2 = s + (2L * padMax), s3 = s + (3L * padMax);
        float* o1 = o + headDim, o2 = o + (2 * headDim), o3 = o + (3 * headDim);
        for (int d0 = 0; d0 < headDim; d0 += 64)
        {
            var a0 = Vector512.Load(o + d0); var a1 = Vector512.Load(o + d0 + 16); var a2 = Vector512.Load(o + d0 + 32); var a3 = Vector512.Load(o + d0 + 48);
            var b0 = Vector512.Load(o1 + d0); var b1 = Vector512.Load(o1 + d0 + 16); var b2 = Vector512.Load(o1 + d0 + 32); var b3 = Vector512.Load(o1 + d0 + 48);
            var c0 = Vector512.Load(o2 + d0); var c1 = Vector512.Load(o2 + d0 + 16); var c2 = Vector512.Load(o2 + d0 + 32); var c3 = Vector512.Load(o2 + d0 + 48);
            var e0 = Vector512.Load(o3 + d0); var e1 = Vector512.Load(o3 + d0 + 16); var e2 = Vector512.Load(o3 + d0 + 32); var e3 = Vector512.Load(o3 + d0 + 48);
            float* v = vPage + d0;
            for (int t = 0; t < valid; t++, v += headDim)
            {
                var v0 = Vector512.Load(v);
                var v1 = Vector512.Load(v + 16);
                var v2 = Vector512.Load(v + 32);
                var v3 = Vector512.Load(v + 48);
                var w = Vector512.Create(s[t]);
                a0 = Vector512.FusedMultiplyAdd(w, v0, a0); a1 = Vector512.FusedMultiplyAdd(w, v1, a1);
                a2 = Vector512.FusedMultiplyAdd(w, v2, a2); a3 = Vector512.FusedMultiplyAdd(w, v3, a3);
                w = Vector512.Create(s1[t]);
                b0 = Vector512.FusedMultiplyAdd(w, v0, b0); b1 = Vector512.FusedMultiplyAdd(w, v1, b1);
                b2 = Vector512.FusedMultiplyAdd(w, v2, b2); b3 = Vector512.FusedMultiplyAdd(w, v3, b3);
                w = Vector512.Create(s2[t]);
                c0 = Vector512.FusedMultiplyAdd(w, v0, c0); c1 = Vector512.FusedMultiplyAdd(w, v1, c1);
                c2 = Vector512.FusedMultiplyAdd(w, v2, c2); c3 = Vector512.FusedMultiplyAdd(w, v3, c3);
                w = Vector512.Create(s3[t]);
                e0 = Vector512.FusedMultiplyAdd(w, v0, e0); e1 = Vector512.FusedMultiplyAdd(w, v1, e1);
                e2 = Vector512.FusedMultiplyAdd(w, v2, e2); e3 = Vector512.FusedMultiplyAdd(w, v3, e3);
            }

            a0.Store(o + d0); a1.Store(o + d0 + 16); a2.Store(o + d0 + 32); a3.Store(o + d0 + 48);
            b0.Store(o1 + d0); b1.Store(o1 + d0 + 16); b2.Store(o1 + d0 + 32); b3.Store(o1 + d0 + 48);
            c0.Store(o2 + d0); c1.Store(o2 + d0 + 16); c2.Store(o2 + d0 + 32); c3.Store(o2 + d0 + 48);
            e0.Store(o3 + d0); e1.Store(o3 + d0 + 16); e2.Store(o3 + d0 + 32); e3.Store(o3 + d0 + 48);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScorePage(float* qp, float* kt, int headDim, Vector512<float> scale, float* destination)
    {
        var a = Vector512<float>.Zero;
        for (int d = 0; d < headDim; d++)
        {
            a = Vector512.FusedMultiplyAdd(Vector512.Create(qp[d]), Vector512.Load(kt + (d * KvPagePool.PageTokens)), a);
        }

        (a * scale).Store(destination);
    }

    private static float* Query(float* q, int qStride, int group, int headDim, int pair) =>
        q + ((long)(pair / group) * qStride) + ((pair % group) * headDim);

    // The 1/sum of each pair lives after the accumulators in the scratch block.
    private static Span<float> Inverse(float* scratch, int pairs, int padMax, int headDim) =>
        new(scratch + ((long)pairs * padMax) + ((long)pairs * headDim), pairs);
}
