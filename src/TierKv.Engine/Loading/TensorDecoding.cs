using System.Buffers.Binary;

namespace TierKv.Engine.Loading;

/// <summary>Conversions of stored tensor element types to float32.</summary>
public static class TensorDecoding
{
    /// <summary>Little-endian float32.</summary>
    public static void F32(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
        }
    }

    /// <summary>Little-endian IEEE half.</summary>
    public static void F16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
        }
    }

    /// <summary>Little-endian bfloat16 (the top half of a float32).</summary>
    public static void BF16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]) << 16);
        }
    }

    /// <summary>Bytes of one GGML Q8_0 block: a half scale and 32 signed bytes.</summary>
    public const int Q8_0BlockBytes = 34;

    /// <summary>GGML Q8_0: blocks of 32 values <c>d · q[i]</c> with a half-precision scale <c>d</c>.</summary>
    public static void Q8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length % 32 != 0)
        {
            throw new InvalidDataException($"A Q8_0 tensor must hold whole blocks of 32 values, not {dst.Length}.");
        }

        for (int b = 0; b < dst.Length / 32; b++)
        {
            var block = src.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
            for (int i = 0; i < 32; i++)
            {
                dst[(b * 32) + i] = d * (sbyte)block[2 + i];
            }
        }
    }

    /// <summary>
    /// The number of elements of a tensor of <paramref name="dims"/>; throws <see cref="InvalidDataException"/> naming
    /// <paramref name="tensor"/> and its <paramref name="dimsLabel"/> when it is not what the model's config implies.
    /// </summary>
    internal static long CheckElements(string tensor, string dimsLabel, long[] dims, long expectedElements)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long elements = 1;
        foreach (long d in dims)
        {
            elements *= d;
        }

        if (elements != expectedElements)
        {
            throw new InvalidDataException($"{tensor} has {elements} elements ({dimsLabel} [{string.Join(", ", dims)}]); the config implies {expectedElements}.");
        }

        return elements;
    }
}
