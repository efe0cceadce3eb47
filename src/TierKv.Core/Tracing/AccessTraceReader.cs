using System.Buffers.Binary;

namespace TierKv.Tracing;

/// <summary>Reads an access trace written by <see cref="AccessTraceWriter"/>, record by record.</summary>
public sealed class AccessTraceReader : IDisposable
{
    private readonly Stream _stream;
    private readonly string _name;
    private readonly byte[] _header = new byte[AccessTraceFormat.RecordHeaderBytes];
    private byte[] _keys = new byte[ChunkKey.Size * 64];

    /// <summary>Opens a trace from <paramref name="stream"/> (owned); <paramref name="name"/> appears in errors.</summary>
    public AccessTraceReader(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = new BufferedStream(stream, 1 << 16);
        _name = name;
        Span<byte> h = stackalloc byte[AccessTraceFormat.FileHeaderBytes];
        if (_stream.ReadAtLeast(h, h.Length, throwOnEndOfStream: false) < h.Length || !h[..8].SequenceEqual(AccessTraceFormat.Magic))
        {
            throw new InvalidDataException($"{name}: not a TierKV access trace (no TKVTRACE header).");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (version != AccessTraceFormat.Version)
        {
            throw new InvalidDataException($"{name}: access trace format version {version}; this build reads version {AccessTraceFormat.Version}.");
        }

        TokensPerChunk = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        if (TokensPerChunk < 1)
        {
            throw new InvalidDataException($"{name}: tokens per chunk is {TokensPerChunk}.");
        }
    }

    /// <summary>Opens the trace file at <paramref name="path"/>.</summary>
    public static AccessTraceReader Open(string path) => new(File.OpenRead(path), Path.GetFileName(path));

    /// <summary>True when the file at <paramref name="path"/> starts with the access trace magic.</summary>
    public static bool IsAccessTrace(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> m = stackalloc byte[8];
        return f.ReadAtLeast(m, 8, throwOnEndOfStream: false) == 8 && m.SequenceEqual(AccessTraceFormat.Magic);
    }

    /// <summary>Tokens per chunk of the traced store.</summary>
    public int TokensPerChunk { get; }

    /// <summary>Records read so far.</summary>
    public long RecordsRead { get; private set; }

    /// <summary>Reads the next record; its keys replace the contents of <paramref name="keys"/>. False at the end.</summary>
    public bool TryRead(out AccessTraceRecord record, List<ChunkKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        keys.Clear();
        int got = _stream.ReadAtLeast(_header, _header.Length, throwOnEndOfStream: false);
        if (got == 0)
        {
            record = default;
            return false;
        }

        if (got < _header.Length)
        {
            throw new InvalidDataException($"{_name}: record {RecordsRead + 1} is cut short (the file ends inside it).");
        }

        var h = _header.AsSpan();
        record = new AccessTraceRecord(BinaryPrimitives.ReadInt64LittleEndian(h), BinaryPrimitives.ReadInt32LittleEndian(h[8..]), BinaryPrimitives.ReadInt32LittleEndian(h[12..]), BinaryPrimitives.ReadInt32LittleEndian(h[16..]));
        if (record.KeyCount is < 0 or > AccessTraceFormat.MaxKeysPerRecord || record.Tokens < 0)
        {
            throw new InvalidDataException($"{_name}: record {RecordsRead + 1} is corrupt ({record.KeyCount} keys, {record.Tokens} tokens).");
        }

        int bytes = record.KeyCount * ChunkKey.Size;
        if (_keys.Length < bytes)
        {
            _keys = new byte[bytes];
        }

        if (_stream.ReadAtLeast(_keys.AsSpan(0, bytes), bytes, throwOnEndOfStream: false) < bytes)
        {
            throw new InvalidDataException($"{_name}: record {RecordsRead + 1} is cut short (the file ends inside its keys).");
        }

        for (int i = 0; i < record.KeyCount; i++)
        {
            keys.Add(ChunkKey.Read(_keys.AsSpan(i * ChunkKey.Size, ChunkKey.Size)));
        }

        RecordsRead++;
        return true;
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
