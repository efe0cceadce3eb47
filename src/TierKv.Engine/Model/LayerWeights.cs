using TierKv.Engine.Math;

namespace TierKv.Engine.Model;

/// <summary>One transformer layer's weights, packed for <see cref="Gemm"/> (q|k|v and gate|up fused).</summary>
public sealed class LayerWeights : IDisposable
{
    /// <summary>RMSNorm weight before attention.</summary>
    public required float[] AttentionNorm { get; init; }

    /// <summary>Fused q, k, v projection: hidden → q | k | v.</summary>
    public required PackedMatrix Qkv { get; init; }

    /// <summary>Fused q, k, v biases (Qwen2), or null.</summary>
    public float[]? QkvBias { get; init; }

    /// <summary>Attention output projection.</summary>
    public required PackedMatrix Output { get; init; }

    /// <summary>RMSNorm weight before the MLP.</summary>
    public required float[] MlpNorm { get; init; }

    /// <summary>Fused gate and up projections: hidden → gate | up.</summary>
    public required PackedMatrix GateUp { get; init; }

    /// <summary>Down projection.</summary>
    public required PackedMatrix Down { get; init; }

    /// <inheritdoc />
    public void Dispose()
    {
        Qkv.Dispose();
        Output.Dispose();
        GateUp.Dispose();
        Down.Dispose();
    }
}
