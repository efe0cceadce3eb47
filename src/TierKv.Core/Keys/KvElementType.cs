namespace TierKv.Keys;

/// <summary>Element type of the KV tensors. The numeric value is part of the layout fingerprint: never renumber.</summary>
public enum KvElementType
{
    Float32 = 1,
    Float16 = 2,
    BFloat16 = 3,
    Float8E4M3 = 4,
    Float8E5M2 = 5,
    Int8 = 6,
}

/// <summary>Sizes and names of <see cref="KvElementType"/> values.</summary>
public static class KvElementTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(KvElementType type) => type switch
    {
        KvElementType.Float32 => 4,
        KvElementType.Float16 or KvElementType.BFloat16 => 2,
        KvElementType.Float8E4M3 or KvElementType.Float8E5M2 or KvElementType.Int8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown KV element type."),
    };

    /// <summary>Parses names such as <c>bf16</c>, <c>float16</c>, <c>fp8_e4m3</c>.</summary>
    public static KvElementType Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" or "float" => KvElementType.Float32,
        "f16" or "fp16" or "float16" or "half" => KvElementType.Float16,
        "bf16" or "bfloat16" => KvElementType.BFloat16,
        "fp8" or "fp8_e4m3" or "float8_e4m3" or "e4m3" => KvElementType.Float8E4M3,
        "fp8_e5m2" or "float8_e5m2" or "e5m2" => KvElementType.Float8E5M2,
        "i8" or "int8" => KvElementType.Int8,
        _ => throw new ArgumentException($"Unknown KV element type '{name}': use f32, f16, bf16, fp8_e4m3, fp8_e5m2 or int8.", nameof(name)),
    };

    /// <summary>The short name used in docs and on the command line.</summary>
    public static string ShortName(KvElementType type) => type switch
    {
        KvElementType.Float32 => "f32",
        KvElementType.Float16 => "f16",
        KvElementType.BFloat16 => "bf16",
        KvElementType.Float8E4M3 => "fp8_e4m3",
        KvElementType.Float8E5M2 => "fp8_e5m2",
        KvElementType.Int8 => "int8",
        _ => type.ToString(),
    };
}
