namespace TierKv.Keys;

/// <summary>Named model shapes with the recompute speeds of ARCHITECTURE.md (one H200, bf16).</summary>
public static class ModelShapes
{
    /// <summary>A named shape: its KV layout and its measured prefill cost.</summary>
    /// <param name="Name">Short name, e.g. <c>llama3-8b</c>.</param>
    /// <param name="Layout">KV layout (bf16, 256 tokens per chunk).</param>
    /// <param name="PrefillMsPerToken">Prefill milliseconds per token at 16k tokens on an H200.</param>
    public sealed record Shape(string Name, KvLayout Layout, double PrefillMsPerToken);

    /// <summary>
    /// Llama-3.2-1B: 16 layers, 8 KV heads, head dim 64 (hidden 2048 / 32 heads), 32 KiB per token. Its prefill cost is
    /// an estimate: the 8B measurement scaled by parameter count (1.24B / 8.03B), not a measurement.
    /// </summary>
    public static Shape Llama32_1B { get; } = new("llama3.2-1b", new KvLayout("meta-llama/Llama-3.2-1B", 16, 8, 64, KvElementType.BFloat16), 584.0 / 16384 * 1.24 / 8.03);

    /// <summary>Llama-3-8B: 32 layers, 8 KV heads, dim 128 (128 KiB per token); 584 ms for a 16k prefill on an H200 (measured, ARCHITECTURE.md).</summary>
    public static Shape Llama3_8B { get; } = new("llama3-8b", new KvLayout("meta-llama/Meta-Llama-3-8B", 32, 8, 128, KvElementType.BFloat16), 584.0 / 16384);

    /// <summary>
    /// Llama-3-70B: 80 layers, 8 KV heads, dim 128 (320 KiB per token). Its prefill cost is an estimate: the 8B
    /// measurement scaled by parameter count (70.6B / 8.03B), not a measurement.
    /// </summary>
    public static Shape Llama3_70B { get; } = new("llama3-70b", new KvLayout("meta-llama/Meta-Llama-3-70B", 80, 8, 128, KvElementType.BFloat16), 584.0 / 16384 * 70.6 / 8.03);

    /// <summary>All named shapes.</summary>
    public static IReadOnlyList<Shape> All { get; } = [Llama32_1B, Llama3_8B, Llama3_70B];

    /// <summary>Finds a shape by name (case-insensitive), or throws with the list of known names.</summary>
    public static Shape Get(string name)
    {
        foreach (var s in All)
        {
            if (string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return s;
            }
        }

        throw new ArgumentException($"Unknown model shape '{name}'. Known shapes: {string.Join(", ", All.Select(s => s.Name))}.", nameof(name));
    }
}
