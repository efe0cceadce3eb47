using System.Numerics.Tensors;

namespace TierKv.Engine.Serving;

/// <summary>Greedy (temperature 0) or sampled next-token choice with temperature, top-k and top-p, seeded.</summary>
public sealed class TokenSampler
{
    private readonly Random _random;

    /// <summary>Creates a sampler; temperature 0 is greedy.</summary>
    public TokenSampler(float temperature = 0f, int topK = 0, float topP = 1f, int seed = 0)
    {
        if (temperature < 0 || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be 0 (greedy) or positive.");
        }

        if (topP is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(topP), topP, "top-p must be in (0, 1].");
        }

        Temperature = temperature;
        TopK = topK;
        TopP = topP;
        _random = new Random(seed);
    }

    /// <summary>Softmax temperature; 0 is greedy.</summary>
    public float Temperature { get; }

    /// <summary>Keep only the k most likely tokens (0: all).</summary>
    public int TopK { get; }

    /// <summary>Keep the smallest set of tokens whose probability reaches p.</summary>
    public float TopP { get; }

    /// <summary>Picks the next token from <paramref name="logits"/>.</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (Temperature == 0)
        {
            return TensorPrimitives.IndexOfMax(logits);
        }

        int n = logits.Length;
        var idx = new int[n];
        var p = new float[n];
        for (int i = 0; i < n; i++)
        {
            idx[i] = i;
            p[i] = logits[i] / Temperature;
        }

        Array.Sort(p, idx);
        Array.Reverse(p);
        Array.Reverse(idx);
        int keep = TopK > 0 ? System.Math.Min(TopK, n) : n;
        float max = p[0];
        double total = 0;
        for (int i = 0; i < keep; i++)
        {
            p[i] = MathF.Exp(p[i] - max);
            total += p[i];
        }

        double cumulative = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++)
        {
            cumulative += p[i] / total;
            if (cumulative >= TopP)
            {
                cut = i + 1;
                break;
            }
        }

        double sum = 0;
        for (int i = 0; i < cut; i++)
        {
            sum += p[i];
        }

        double r = _random.NextDouble() * sum;
        for (int i = 0; i < cut; i++)
        {
            r -= p[i];
            if (r <= 0)
            {
                return idx[i];
            }
        }

        return idx[cut - 1];
    }
}
