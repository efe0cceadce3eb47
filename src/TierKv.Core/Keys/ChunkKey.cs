using System.Buffers.Binary;
using System.Globalization;

namespace TierKv.Keys;

/// <summary>
/// A 128-bit chained prefix hash naming one chunk. Equal keys mean equal layouts, tenants and token prefixes.
/// The canonical byte form is the big-endian XXH3-128 digest (what <c>xxh3_128_digest</c> prints).
/// </summary>
public readonly record struct ChunkKey(UInt128 Value) : IComparable<ChunkKey>
{
    /// <summary>Size of the canonical byte form.</summary>
    public const int Size = 16;

    /// <summary>High 64 bits.</summary>
    public ulong High => (ulong)(Value >> 64);

    /// <summary>Low 64 bits.</summary>
    public ulong Low => (ulong)Value;

    /// <summary>Writes the canonical 16-byte big-endian form.</summary>
    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, Value);

    /// <summary>Reads the canonical 16-byte big-endian form.</summary>
    public static ChunkKey Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt128BigEndian(source));

    /// <summary>Parses 32 hex digits.</summary>
    public static ChunkKey Parse(string hex)
    {
        if (hex.Length != 32 || !UInt128.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v))
        {
            throw new FormatException($"A chunk key is 32 hex digits; got '{hex}'.");
        }

        return new ChunkKey(v);
    }

    /// <summary>Parses 32 hex digits without throwing.</summary>
    public static bool TryParse(ReadOnlySpan<char> hex, out ChunkKey key)
    {
        if (hex.Length == 32 && UInt128.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v))
        {
            key = new ChunkKey(v);
            return true;
        }

        key = default;
        return false;
    }

    /// <summary>32 lower-case hex digits of the canonical form.</summary>
    public override string ToString() => Value.ToString("x32", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public int CompareTo(ChunkKey other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override int GetHashCode() => (int)(Low ^ (Low >> 32) ^ High);
}
