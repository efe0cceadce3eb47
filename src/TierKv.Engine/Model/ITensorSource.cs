namespace TierKv.Engine.Model;

/// <summary>
/// Where weights come from, by Hugging Face tensor name (<c>model.layers.3.self_attn.q_proj.weight</c>):
/// a safetensors file, a GGUF file (names mapped) or the synthetic generator. Tensors are returned as float32.
/// </summary>
public interface ITensorSource
{
    /// <summary>Whether the source holds <paramref name="name"/>.</summary>
    bool Contains(string name);

    /// <summary>
    /// Reads <paramref name="name"/> converted to float32, row-major in the Hugging Face shape. Throws
    /// <see cref="InvalidDataException"/> naming the tensor when it is missing or does not hold
    /// <paramref name="expectedElements"/> elements.
    /// </summary>
    float[] ReadF32(string name, long expectedElements);
}
