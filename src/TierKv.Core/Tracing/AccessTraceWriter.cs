using System.Buffers.Binary;

namespace TierKv.Tracing;

/// <summary>
/// Writes TierKV's access trace: one record per lookup with the time, the tenant, the tokens asked for and the chunk
/// keys of the request, never token contents. The layout is in <see cref="AccessTraceFormat"/>. Thread-safe: a store
/// may call <see cref="Record(int, int, ReadOnlySpan{ChunkKey})"/> from any thread; records are appended under a lock
/// through a buffer, without allocation per record.
/// </summary>
public sealed class AccessTraceWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly object _lock = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly byte[] _scratch = new byte[AccessTraceFormat.RecordHeaderBytes];
    private readonly byte[] _keyBuffer = new byte[ChunkKey.Size * 64];
    private bool _disposed;

    /// <summary>Starts a trace in <paramref name="stream"/> (owned) for chunks of <paramref name="tokensPerChunk"/> tokens.</summary>
    public AccessTraceWriter(Stream stream, int tokensPerChunk)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokensPerChunk, 1);
        _stream = new BufferedStream(stream, 1 << 16);
        Span<byte> header = stackalloc byte[AccessTraceFormat.FileHeaderBytes];
        header.Clear();
        AccessTraceFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], AccessTraceFormat.Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], tokensPerChunk);
        _stream.Write(header);
    }

    /// <summary>Creates (or replaces) the trace file at <paramref name="path"/>.</summary>
    public static AccessTraceWriter Create(string path, int tokensPerChunk) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read), tokensPerChunk);

    /// <summary>Records number written so far.</summary>
    public long Records { get; private set; }

    /// <summary>Records a lookup now (time measured from the writer's creation).</summary>
    public void Record(int tenant, int tokens, ReadOnlySpan<ChunkKey> keys) =>
        Record((long)Stopwatch.GetElapsedTime(_start).TotalMicroseconds, tenant, tokens, keys);

    /// <summary>Records a lookup at <paramref name="timeMicros"/> microseconds from the start of the trace.</summary>
    public void Record(long timeMicros, int tenant, int tokens, ReadOnlySpan<ChunkKey> keys)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var h = _scratch.AsSpan();
            BinaryPrimitives.WriteInt64LittleEndian(h, timeMicros);
            BinaryPrimitives.WriteInt32LittleEndian(h[8..], tenant);
            BinaryPrimitives.WriteInt32LittleEndian(h[12..], tokens);
            BinaryPrimitives.WriteInt32LittleEndian(h[16..], keys.Length);
            _stream.Write(h);
            int perBatch = _keyBuffer.Length / ChunkKey.Size;
            for (int i = 0; i < keys.Length; i += perBatch)
            {
                int n = Math.Min(perBatch, keys.Length - i);
                for (int k = 0; k < n; k++)
                {
                    keys[i + k].WriteTo(_keyBuffer.AsSpan(k * ChunkKey.Size, ChunkKey.Size));
                }

                _stream.Write(_keyBuffer, 0, n * ChunkKey.Size);
            }

            Records++;
        }
    }

    /// <summary>Pushes buffered records to the file.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            _stream.Flush();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stream.Dispose();
        }
    }
}
