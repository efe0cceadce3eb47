namespace TierKv.Engine.Model;

/// <summary>
/// Deterministic synthetic weights: every tensor is filled from a SplitMix64 stream seeded by its name and the
/// seed, uniform in ±sqrt(3 / fan_in) (unit-variance activations), with smaller output projections so the residual
/// stream stays bounded over many layers. No weights can be downloaded here; these make the engine's cost and
/// numerics real while its text output is meaningless.
/// </summary>
public sealed class SyntheticWeights(ModelConfig config, ulong seed = 0x7157_4B56) : ITensorSource
{
    /// <inheritdoc />
    public bool Contains(string name) => !name.StartsWith("lm_head", StringComparison.Ordinal) || !config.TieEmbeddings;

    /// <inheritdoc />
    public float[] ReadF32(string name, long expectedElements)
    {
        var data = new float[expectedElements];
        if (name.EndsWith("norm.weight", StringComparison.Ordinal))
        {
            Array.Fill(data, 1f);
            return data;
        }

        if (name.EndsWith(".bias", StringComparison.Ordinal))
        {
            Fill(data, name, 0.02f);
            return data;
        }

        int fanIn = name switch
        {
            _ when name.Contains("embed_tokens", StringComparison.Ordinal) => 3,
            _ when name.Contains("o_proj", StringComparison.Ordinal) => config.QDim,
            _ when name.Contains("down_proj", StringComparison.Ordinal) => config.Intermediate,
            _ => config.Hidden,
        };
        float gain = name.Contains("o_proj", StringComparison.Ordinal) || name.Contains("down_proj", StringComparison.Ordinal)
            ? 0.5f / MathF.Sqrt(config.Layers)
            : 1f;
        Fill(data, name, gain * MathF.Sqrt(3f / fanIn));
        return data;
    }

    private void Fill(Span<float> data, string name, float scale)
    {
        ulong state = seed;
        foreach (char c in name)
        {
            state = (state ^ c) * 0x100000001B3UL;
        }

        for (int i = 0; i < data.Length; i++)
        {
            // SplitMix64; the top 24 bits give a uniform float in [-1, 1).
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            data[i] = (((int)(z >> 40) * (1f / (1 << 23))) - 1f) * scale;
        }
    }
}
