using TierKv.Engine.Math;

namespace TierKv.Engine.Tests;

public unsafe class GemmTests
{
    private static PackedMatrix RandomMatrix(int k, int n, int seed)
    {
        var r = new Random(seed);
        var w = new float[k * n];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(r.NextDouble() - 0.5);
        }

        var m = new PackedMatrix(k, n);
        m.PackFromOutIn(w);
        return m;
    }

    [Theory]
    [InlineData(1, 16, 32)]
    [InlineData(8, 300, 45)]
    [InlineData(13, 257, 96)]
    [InlineData(200, 520, 70)]
    public void Multiply_matches_the_scalar_fma_reference_bit_for_bit(int m, int k, int n)
    {
        using var b = RandomMatrix(k, n, 1);
        var a = new float[m * k];
        var r = new Random(2);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)(r.NextDouble() * 2 - 1);
        }

        var c = new float[m * b.PaddedN];
        var expected = new float[m * b.PaddedN];
        fixed (float* pa = a, pc = c)
        {
            Gemm.Multiply(pa, m, k, b, pc, b.PaddedN, threads: 2);
        }

        Gemm.MultiplyReference(a, m, b, expected);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(expected[(i * b.PaddedN) + j], c[(i * b.PaddedN) + j]);
            }
        }
    }

    [Fact]
    public void A_row_gives_the_same_bits_alone_and_in_a_batch_of_any_size()
    {
        const int k = 384, n = 96;
        using var b = RandomMatrix(k, n, 3);
        var a = new float[203 * k];
        var r = new Random(4);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)(r.NextDouble() * 2 - 1);
        }

        var batch = new float[203 * b.PaddedN];
        var single = new float[b.PaddedN];
        fixed (float* pa = a, pb = batch, ps = single)
        {
            Gemm.Multiply(pa, 203, k, b, pb, b.PaddedN);
            foreach (int row in (int[])[0, 7, 8, 100, 202])
            {
                Gemm.Multiply(pa + (row * k), 1, k, b, ps, b.PaddedN, threads: 1);
                Assert.Equal(batch.AsSpan(row * b.PaddedN, b.PaddedN).ToArray(), single);
            }
        }
    }

    [Fact]
    public void Hand_checked_two_by_two_product()
    {
        // [1 2; 3 4] · W where W (HF [out, in] rows) = [[5, 7], [6, 8]] so W as K×N = [5 6; 7 8].
        using var b = new PackedMatrix(2, 2);
        b.PackFromOutIn([5f, 7f, 6f, 8f]);
        var a = new float[] { 1, 2, 3, 4 };
        var c = new float[2 * b.PaddedN];
        fixed (float* pa = a, pc = c)
        {
            Gemm.Multiply(pa, 2, 2, b, pc, b.PaddedN);
        }

        Assert.Equal([19f, 22f], c[..2]);
        Assert.Equal([43f, 50f], c[b.PaddedN..(b.PaddedN + 2)]);
    }
}
