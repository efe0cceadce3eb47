namespace TierKv.Tracing;

/// <summary>
/// The binary layout of TierKV's access trace (little-endian). File header, 32 bytes: magic <c>TKVTRACE</c>, format
/// version (int32), tokens per chunk (int32), 16 reserved bytes. Then records: time in microseconds from the start
/// (int64), tenant (int32), tokens looked up (int32), key count n (int32), n chunk keys of 16 bytes in their canonical
/// big-endian form. Keys are chained prefix hashes, so a trace reveals which requests share prefixes, not their text.
/// </summary>
public static class AccessTraceFormat
{
    /// <summary>Format version written and read.</summary>
    public const int Version = 1;

    /// <summary>Bytes of the file header.</summary>
    public const int FileHeaderBytes = 32;

    /// <summary>Bytes of a record before its keys.</summary>
    public const int RecordHeaderBytes = 20;

    /// <summary>Largest key count a reader accepts in one record (a sanity bound against corrupt files).</summary>
    public const int MaxKeysPerRecord = 1 << 20;

    /// <summary>The 8-byte magic at the start of the file.</summary>
    public static ReadOnlySpan<byte> Magic => "TKVTRACE"u8;
}
