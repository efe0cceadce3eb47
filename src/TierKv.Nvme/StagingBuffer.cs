using TierKv.Keys;

namespace TierKv.Nvme;

/// <summary>
/// One page-aligned native buffer rented for one I/O, plus the bookkeeping of a write-behind in flight (so the
/// completion needs no allocation): a slot's size for copied writes and reads, or a frame of two pages (header, trailer)
/// for a zero-copy write, or one header page for a zero-copy read.
/// </summary>
internal sealed class StagingBuffer
{
    public StagingBuffer(NvmeTier owner, nint pointer)
    {
        Owner = owner;
        Pointer = pointer;
    }

    public NvmeTier Owner { get; }

    /// <summary>Streaming XXH3 reused for every chunk through this buffer (copy and checksum in one pass).</summary>
    public System.IO.Hashing.XxHash3 Hasher { get; } = new();

    public nint Pointer { get; }

    public int Slot { get; set; }

    public KvLayout? Layout { get; set; }

    public ChunkKey Key { get; set; }

    public ChunkKey? Parent { get; set; }

    public int PayloadLength { get; set; }

    public long Sequence { get; set; }

    /// <summary>The chunk's version (0: content-addressed), written into the slot trailer.</summary>
    public long Version { get; set; }

    /// <summary>The chunk's priority when it was staged, written into the slot trailer.</summary>
    public byte Priority { get; set; }

    /// <summary>Where the payload to checksum sits: inside this buffer, or the caller's page-aligned memory.</summary>
    public nint Payload { get; set; }

    /// <summary>Where the slot trailer is written: after the payload in a slot-sized buffer, the second page of a frame.</summary>
    public nint Trailer { get; set; }

    /// <summary>The source to copy into this buffer on the I/O thread (unaligned caller memory), or 0.</summary>
    public nint CopyFrom { get; set; }

    /// <summary>For reads: where the payload goes (the caller's memory).</summary>
    public nint Destination { get; set; }

    /// <summary>For reads: what verification found.</summary>
    public TierKv.Chunks.ChunkDamage Damage { get; set; }
}
