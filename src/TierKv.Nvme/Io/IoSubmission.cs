namespace TierKv.Nvme.Io;

/// <summary>How the SSD tier's reads and writes reach the device (<see cref="NvmeTierOptions.Submission"/>).</summary>
public enum IoSubmission
{
    /// <summary>The faster path measured on Linux (docs/ssd-tier.md, "I/O"), falling back to threads where io_uring is refused.</summary>
    Auto,

    /// <summary>Dedicated threads blocking in <c>pread</c>/<c>pwrite</c>.</summary>
    Threads,

    /// <summary>One thread submitting and reaping through io_uring; falls back to threads (logged) where the kernel refuses it.</summary>
    IoUring,
}
