namespace TierKv.Nvme.Io;

/// <summary>Checks whether this process may use io_uring (the SSD tier's preferred submission path).</summary>
public static class IoUringProbe
{
    /// <summary>
    /// Sets up and tears down a small ring. Returns whether that worked and, when it did not, why (ENOSYS, EPERM from
    /// seccomp or <c>kernel.io_uring_disabled</c>, EINVAL on old kernels). The tier also tries one read through its ring
    /// at open and falls back to threads if that fails.
    /// </summary>
    public static (bool Available, string Detail) Check()
    {
        using var ring = IoUring.TryCreate(2, out string failure);
        return ring is null ? (false, failure) : (true, "io_uring");
    }
}
