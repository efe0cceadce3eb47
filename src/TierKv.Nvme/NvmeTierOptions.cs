using TierKv.Curves;
using TierKv.Eviction;
using TierKv.Nvme.Io;

namespace TierKv.Nvme;

/// <summary>Settings of an <see cref="NvmeTier"/>.</summary>
public sealed record NvmeTierOptions
{
    /// <summary>Directory holding the tier's files (created when absent). Required.</summary>
    public string Directory { get; init; } = "";

    /// <summary>Payload bytes the tier may hold; the files take a little more (headers, padding). Required.</summary>
    public long CapacityBytes { get; init; }

    /// <summary>Largest chunk payload the tier holds (a slot's payload room). Required.</summary>
    public int SlotBytes { get; init; }

    /// <summary>Bytes per preallocated data file (rounded down to whole slots, at least one).</summary>
    public long FileBytes { get; init; } = 1L << 30;

    /// <summary>Reads and writes kept in flight at once (I/O threads and staging buffers).</summary>
    public int QueueDepth { get; init; } = 8;

    /// <summary>How reads and writes reach the device: io_uring or blocking threads (docs/ssd-tier.md, "I/O").</summary>
    public IoSubmission Submission { get; init; } = IoSubmission.Auto;

    /// <summary>
    /// Read preference of the io_uring path: while a chunk read waits or runs, at most this many writes are kept in the
    /// device (the others wait in the engine), so a read does not queue behind the tier's own write-behind burst.
    /// 0 means <see cref="QueueDepth"/> (no preference). Measured on a virtio disk, 32 MiB chunks, queue depth 8: read
    /// p99 under a write burst against raw reads, median of three, 1.03 without, 0.78 with 2, 0.83 with 1
    /// (docs/ssd-tier.md, "Figures"); 2 throttles writes less for the same gain.
    /// </summary>
    public int WritesDuringReads { get; init; } = 2;

    /// <summary>The read preference in effect (see <see cref="WritesDuringReads"/>).</summary>
    public int EffectiveWritesDuringReads => WritesDuringReads > 0 ? Math.Min(WritesDuringReads, QueueDepth) : QueueDepth;

    /// <summary>
    /// Page-aligned staging buffers of one slot each, allocated on first use: they bound the memory of reads and writes
    /// waiting for an I/O thread. Write-behind beyond them is shed. 0 means twice <see cref="QueueDepth"/>.
    /// </summary>
    public int StagingBuffers { get; init; }

    /// <summary>The staging buffer count in effect.</summary>
    public int EffectiveStagingBuffers => StagingBuffers > 0 ? StagingBuffers : 2 * QueueDepth;

    /// <summary>
    /// <see cref="NvmeTier.WriteAsync"/> writes a page-aligned payload straight from the caller's memory (one vectored
    /// write: header page, payload, trailer page) instead of copying it into a staging buffer. Measured faster when that
    /// memory is in huge pages (<see cref="DirectIoMemory.Allocate"/>, or memory the caller advised the same way); from
    /// physically scattered 4 KiB pages the disk gets several times more, smaller requests, which measured slower than
    /// copying on a virtio disk: turn it off for such callers. Write-behind always copies (its span is only borrowed).
    /// </summary>
    public bool ZeroCopyWrites { get; init; } = true;

    /// <summary>Eviction policy name (see <see cref="EvictionPolicies"/>).</summary>
    public string EvictionPolicy { get; init; } = EvictionPolicies.Default;

    /// <summary>Tier name in metrics.</summary>
    public string Name { get; init; } = "ssd";

    /// <summary>
    /// The tier's live miss-ratio curve (null: none): the hit ratio it would have at other sizes for the stream it sees
    /// (reads that reach it and chunks written to it), as the DRAM tier's (docs/operations.md, "Live curves"). Chunks
    /// found at recovery are not accesses: the curve starts with the first access after the tier opens.
    /// </summary>
    public MissRatioCurveOptions? Curves { get; init; }

    /// <summary>Use <c>O_DIRECT</c> where the file system allows it (falls back to buffered I/O, logged once).</summary>
    public bool UseDirectIo { get; init; } = true;

    /// <summary>Reserve the files' blocks at open (<c>fallocate</c>) so a full disk shows at open, not mid-write.</summary>
    public bool Preallocate { get; init; } = true;

    /// <summary>Fault injection for the medium (tests, the probe): null, the default, runs every I/O as it is.</summary>
    public Io.IMediumFaults? Faults { get; init; }

    /// <summary><c>fdatasync</c> after every chunk write: survives power loss, at a large cost in write speed. Process crashes are safe without it.</summary>
    public bool SyncWrites { get; init; }

    /// <summary>Verify every payload checksum while rebuilding the index at open (reads the whole tier once); else headers only, payloads at read time.</summary>
    public bool VerifyOnRecovery { get; init; } = true;

    /// <summary>Where the tier's few log lines go (a degraded mode, recovery summary); standard error when null.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Bytes of the space a slot takes in its file: one page holding the header at its end, then the payload and the
    /// trailer rounded up to the page size (so a page-aligned payload moves straight between disk and the caller's buffer).
    /// </summary>
    public long SlotStride => BlockFile.Alignment + AlignUp(SlotBytes + 64L);

    /// <summary>Rounds up to the I/O alignment.</summary>
    public static long AlignUp(long bytes) => (bytes + BlockFile.Alignment - 1) / BlockFile.Alignment * BlockFile.Alignment;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("NvmeTierOptions.Directory must name a directory for the SSD tier's files.", nameof(Directory));
        }

        if (SlotBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SlotBytes), SlotBytes, "SlotBytes must be positive: the largest chunk payload the tier holds.");
        }

        if (CapacityBytes < SlotBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(CapacityBytes), CapacityBytes, $"CapacityBytes must hold at least one slot of {SlotBytes} bytes.");
        }

        if (CapacityBytes / SlotBytes > int.MaxValue / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(CapacityBytes), CapacityBytes, "CapacityBytes / SlotBytes gives too many slots; use larger slots.");
        }

        if (QueueDepth is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueDepth), QueueDepth, "QueueDepth must be in [1, 256].");
        }

        if (StagingBuffers is < 0 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(StagingBuffers), StagingBuffers, "StagingBuffers must be in [0, 4096] (0: twice QueueDepth).");
        }

        if (WritesDuringReads is < 0 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(WritesDuringReads), WritesDuringReads, "WritesDuringReads must be in [0, 256] (0: QueueDepth, no read preference).");
        }

        if (!Enum.IsDefined(Submission))
        {
            throw new ArgumentOutOfRangeException(nameof(Submission), Submission, "Submission must be Auto, Threads or IoUring.");
        }

        if (FileBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(FileBytes), FileBytes, "FileBytes must be positive.");
        }

        _ = EvictionPolicies.Create(EvictionPolicy, 1);
    }
}
