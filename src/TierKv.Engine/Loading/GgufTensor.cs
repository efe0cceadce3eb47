namespace TierKv.Engine.Loading;

/// <summary>
/// One tensor for <see cref="GgufWriter"/>: its GGUF name, its dimensions in GGUF order (innermost first), its GGML
/// type id and its bytes. <see cref="Data"/> is called once, when the tensor is written, so large models are not held
/// in memory all at once.
/// </summary>
public sealed record GgufTensor(string Name, long[] Dims, uint Type, long Bytes, Func<byte[]> Data)
{
    /// <summary>A tensor whose bytes are already in memory.</summary>
    public GgufTensor(string name, long[] dims, uint type, byte[] data)
        : this(name, dims, type, data?.LongLength ?? 0, () => data!)
    {
        ArgumentNullException.ThrowIfNull(data);
    }
}
