using TierKv.Engine.Math;

namespace TierKv.Engine.Tests;

public unsafe class KernelOpsTests
{
    [Fact]
    public void RmsNorm_of_a_constant_row_is_the_weight()
    {
        var x = Enumerable.Repeat(2f, 32).ToArray();
        var w = Enumerable.Range(0, 32).Select(i => (float)i).ToArray();
        var y = new float[32];
        fixed (float* px = x, pw = w, py = y)
        {
            KernelOps.RmsNorm(px, pw, py, 32, 0f + 1e-30f);
        }

        // mean(x²) = 4, so x / 2 = 1 and y = w.
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(w[i], y[i], 5);
        }
    }

    [Fact]
    public void RmsNorm_matches_its_scalar_reference_exactly()
    {
        var r = new Random(5);
        var x = Enumerable.Range(0, 64).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var w = Enumerable.Range(0, 64).Select(_ => (float)r.NextDouble()).ToArray();
        var y = new float[64];
        var expected = new float[64];
        fixed (float* px = x, pw = w, py = y)
        {
            KernelOps.RmsNorm(px, pw, py, 64, 1e-5f);
        }

        KernelOps.RmsNormReference(x, w, expected, 1e-5f);
        Assert.Equal(expected, y);
    }

    [Fact]
    public void Rope_by_a_quarter_turn_rotates_each_pair()
    {
        // Head dim 4: pairs (0, 2) and (1, 3); cos 0, sin 1 maps (a, b) to (-b, a).
        var head = new float[] { 1, 2, 3, 4 };
        var cos = new float[] { 0, 0 };
        var sin = new float[] { 1, 1 };
        fixed (float* h = head, c = cos, s = sin)
        {
            KernelOps.Rope(h, c, s, 4);
        }

        Assert.Equal([-3f, -4f, 1f, 2f], head);
    }

    [Fact]
    public void SwiGlu_is_silu_of_gate_times_up()
    {
        var gate = new float[16];
        var up = new float[16];
        gate[0] = 0; up[0] = 5;
        gate[1] = 1; up[1] = 2;
        gate[2] = -1; up[2] = 1;
        var o = new float[16];
        fixed (float* g = gate, u = up, po = o)
        {
            KernelOps.SwiGlu(g, u, po, 16);
        }

        Assert.Equal(0f, o[0]);
        Assert.Equal(2 * 0.7310586f, o[1], 5);
        Assert.Equal(-0.26894142f, o[2], 5);
    }
}
