using TierKv.Engine.Cache;
using TierKv.Engine.Math;
using TierKv.Engine.Model;

namespace TierKv.Engine.Tests;

public class TransformerTests
{
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Forward_matches_a_double_precision_reference_transformer(bool bias, bool tied)
    {
        var config = TestModels.Micro(bias, tied);
        using var model = TestModels.Build(config);
        var tokens = TestModels.Tokens(37, 11);
        using var pool = model.CreatePagePool(64);
        using var seq = new KvSequence(pool);
        var logits = new float[tokens.Length * config.VocabSize];
        model.Forward(seq, tokens, logits);
        var expected = Reference.Logits(model.Weights, tokens);
        for (int i = 0; i < logits.Length; i++)
        {
            Assert.True(System.Math.Abs(logits[i] - expected[i]) <= 1e-3 * (1 + System.Math.Abs(expected[i])), $"logit {i}: {logits[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Prefill_split_and_decode_give_bit_identical_logits()
    {
        var config = TestModels.Micro();
        using var model = TestModels.Build(config);
        var tokens = TestModels.Tokens(300, 12);
        using var pool = model.CreatePagePool(1024);
        int v = config.VocabSize;

        var all = new float[tokens.Length * v];
        using (var seq = new KvSequence(pool))
        {
            model.Forward(seq, tokens, all);
        }

        // Uneven pieces, then one-token decode steps, must reproduce every row.
        using var split = new KvSequence(pool);
        int pos = 0;
        foreach (int piece in (int[])[1, 15, 17, 100, 160])
        {
            var part = new float[piece * v];
            model.Forward(split, tokens.AsSpan(pos, piece), part);
            Assert.Equal(all.AsSpan(pos * v, piece * v).ToArray(), part);
            pos += piece;
        }

        var one = new float[v];
        for (; pos < tokens.Length; pos++)
        {
            model.Forward(split, tokens.AsSpan(pos, 1), one);
            Assert.Equal(all.AsSpan(pos * v, v).ToArray(), one);
        }
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var config = TestModels.Micro();
        using var model = TestModels.Build(config);
        var tokens = TestModels.Tokens(200, 13);
        using var pool = model.CreatePagePool(512);
        var a = new float[config.VocabSize];
        var b = new float[config.VocabSize];
        int saved = EngineThreads.Count;
        try
        {
            EngineThreads.Count = 1;
            using (var s = new KvSequence(pool))
            {
                model.Forward(s, tokens, a);
            }

            EngineThreads.Count = 2;
            using (var s = new KvSequence(pool))
            {
                model.Forward(s, tokens, b);
            }
        }
        finally
        {
            EngineThreads.Count = saved;
        }

        Assert.Equal(a, b);
    }

    [Fact]
    public unsafe void Attention_over_one_key_returns_its_value_and_equal_scores_average()
    {
        var config = TestModels.Micro();
        using var pool = new KvPagePool(config, 2);
        using var seq = new KvSequence(pool);
        seq.EnsureCapacity(2);
        int hd = config.HeadDim;
        float* page = pool.LayerPage(seq.PageOf(0), 0);
        // KV head 0: key 0 and key 1 both zero (equal scores); values 1..16 and 3..18.
        for (int d = 0; d < hd; d++)
        {
            page[(d * KvPagePool.PageTokens) + 0] = 0;
            page[(d * KvPagePool.PageTokens) + 1] = 0;
            page[pool.ValueOffset + d] = d + 1;
            page[pool.ValueOffset + hd + d] = d + 3;
        }

        var q = new float[config.GroupSize * hd];
        var o = new float[config.GroupSize * hd];
        var scratch = new float[Attention.ScratchFloats(1, config.GroupSize, hd, 16)];
        fixed (float* pq = q, po = o, ps = scratch)
        {
            Attention.Row(seq, 0, 0, config.GroupSize, hd, pq, po, 0, ps);
            Assert.Equal(Enumerable.Range(1, hd).Select(i => (float)i), o[..hd], (a, b) => System.Math.Abs(a - b) < 1e-5);
            Attention.Row(seq, 0, 0, config.GroupSize, hd, pq, po, 1, ps);
            Assert.Equal(Enumerable.Range(2, hd).Select(i => (float)i), o[..hd], (a, b) => System.Math.Abs(a - b) < 1e-5);
        }
    }

    [Fact]
    public void Forward_rejects_tokens_outside_the_vocabulary()
    {
        var config = TestModels.Micro();
        using var model = TestModels.Build(config);
        using var pool = model.CreatePagePool(32);
        using var seq = new KvSequence(pool);
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(seq, [1, 500], new float[config.VocabSize]));
        Assert.Contains("500", ex.Message);
    }

    /// <summary>A plain double-precision Llama forward pass over the same weights.</summary>
    private static class Reference
    {
        public static double[] Logits(ModelWeights w, int[] tokens)
        {
            var c = w.Config;
            int n = tokens.Length, d = c.Hidden, hd = c.HeadDim;
            var x = new double[n][];
            for (int i = 0; i < n; i++)
            {
                x[i] = new double[d];
                for (int j = 0; j < d; j++)
                {
                    x[i][j] = w.Embedding[(tokens[i] * d) + j];
                }
            }

            foreach (var l in w.Layers)
            {
                var q = new double[n][];
                var k = new double[n][];
                var v = new double[n][];
                for (int i = 0; i < n; i++)
                {
                    var h = Norm(x[i], l.AttentionNorm, c.RmsEps);
                    var qkv = MatVec(h, l.Qkv);
                    if (l.QkvBias is { } b)
                    {
                        for (int j = 0; j < qkv.Length; j++)
                        {
                            qkv[j] += b[j];
                        }
                    }

                    q[i] = qkv[..c.QDim];
                    k[i] = qkv[c.QDim..(c.QDim + c.KvDim)];
                    v[i] = qkv[(c.QDim + c.KvDim)..];
                    for (int hh = 0; hh < c.Heads; hh++)
                    {
                        Rope(q[i], hh * hd, hd, i, c.RopeTheta);
                    }

                    for (int hh = 0; hh < c.KvHeads; hh++)
                    {
                        Rope(k[i], hh * hd, hd, i, c.RopeTheta);
                    }
                }

                for (int i = 0; i < n; i++)
                {
                    var att = new double[c.QDim];
                    for (int hh = 0; hh < c.Heads; hh++)
                    {
                        int g = hh / c.GroupSize;
                        var s = new double[i + 1];
                        double max = double.NegativeInfinity;
                        for (int j = 0; j <= i; j++)
                        {
                            double dot = 0;
                            for (int e = 0; e < hd; e++)
                            {
                                dot += q[i][(hh * hd) + e] * k[j][(g * hd) + e];
                            }

                            s[j] = dot / System.Math.Sqrt(hd);
                            max = System.Math.Max(max, s[j]);
                        }

                        double sum = 0;
                        for (int j = 0; j <= i; j++)
                        {
                            s[j] = System.Math.Exp(s[j] - max);
                            sum += s[j];
                        }

                        for (int j = 0; j <= i; j++)
                        {
                            for (int e = 0; e < hd; e++)
                            {
                                att[(hh * hd) + e] += s[j] / sum * v[j][(g * hd) + e];
                            }
                        }
                    }

                    var o = MatVec(att, l.Output);
                    for (int j = 0; j < d; j++)
                    {
                        x[i][j] += o[j];
                    }

                    var h2 = Norm(x[i], l.MlpNorm, c.RmsEps);
                    var gu = MatVec(h2, l.GateUp);
                    var act = new double[c.Intermediate];
                    for (int j = 0; j < c.Intermediate; j++)
                    {
                        double gate = gu[j];
                        act[j] = gate / (1 + System.Math.Exp(-gate)) * gu[c.Intermediate + j];
                    }

                    var down = MatVec(act, l.Down);
                    for (int j = 0; j < d; j++)
                    {
                        x[i][j] += down[j];
                    }
                }
            }

            var logits = new double[n * c.VocabSize];
            for (int i = 0; i < n; i++)
            {
                var row = MatVec(Norm(x[i], w.FinalNorm, c.RmsEps), w.LmHead);
                Array.Copy(row, 0, logits, i * c.VocabSize, c.VocabSize);
            }

            return logits;
        }

        private static double[] Norm(double[] x, float[] w, float eps)
        {
            double ss = 0;
            foreach (double e in x)
            {
                ss += e * e;
            }

            double r = 1 / System.Math.Sqrt((ss / x.Length) + eps);
            var y = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                y[i] = x[i] * r * w[i];
            }

            return y;
        }

        private static double[] MatVec(double[] x, PackedMatrix m)
        {
            var y = new double[m.N];
            for (int j = 0; j < m.N; j++)
            {
                double acc = 0;
                for (int i = 0; i < m.K; i++)
                {
                    acc += x[i] * m[i, j];
                }

                y[j] = acc;
            }

            return y;
        }

        private static void Rope(double[] v, int offset, int hd, int pos, float theta)
        {
            int half = hd / 2;
            for (int i = 0; i < half; i++)
            {
                double angle = pos * System.Math.Pow(theta, -2.0 * i / hd);
                double a = v[offset + i], b = v[offset + i + half];
                v[offset + i] = (a * System.Math.Cos(angle)) - (b * System.Math.Sin(angle));
                v[offset + i + half] = (b * System.Math.Cos(angle)) + (a * System.Math.Sin(angle));
            }
        }
    }
}
