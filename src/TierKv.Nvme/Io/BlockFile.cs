using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// One file read and written at explicit offsets through libc, with <c>O_DIRECT</c> when the file system allows it
/// (buffers, offsets and lengths must then be multiples of <see cref="Alignment"/>). Where <c>O_DIRECT</c> is refused
/// the file is opened buffered instead and <see cref="IsDirect"/> says so. Errors come back as negative errno
/// values, never exceptions, so a failing disk stays a miss.
/// </summary>
public sealed unsafe class BlockFile : IDisposable
{
    /// <summary>Alignment of buffers, offsets and lengths for <c>O_DIRECT</c> (the page size covers every NVMe sector size).</summary>
    public const int Alignment = 4096;

    private int _fd;

    private BlockFile(string path, int fd, bool direct, string? fallbackReason)
    {
        Path = path;
        _fd = fd;
        IsDirect = direct;
        FallbackReason = fallbackReason;
    }

    /// <summary>The file descriptor (for the io_uring path, which submits by descriptor).</summary>
    internal int Descriptor => _fd;

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>True when reads and writes bypass the page cache.</summary>
    public bool IsDirect { get; private set; }

    /// <summary>Why <c>O_DIRECT</c> is not used (null when it is, or was not asked for).</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>
    /// Opens (creating when absent) <paramref name="path"/> for reading and writing, with <c>O_DIRECT</c> when
    /// <paramref name="preferDirect"/> and the file system accepts it. Throws <see cref="IOException"/> naming the
    /// path when the file cannot be opened at all.
    /// </summary>
    public static BlockFile Open(string path, bool preferDirect)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        const int flags = LibC.ORdWr | LibC.OCreat | LibC.OCloExec;
        string? reason = null;
        if (preferDirect)
        {
            int fd = LibC.Open(path, flags | LibC.ODirect, Convert.ToInt32("644", 8));
            if (fd >= 0)
            {
                return new BlockFile(path, fd, true, null);
            }

            int errno = Marshal.GetLastPInvokeError();
            reason = $"open with O_DIRECT failed: {LibC.Describe(errno)}";
        }

        int bfd = LibC.Open(path, flags, Convert.ToInt32("644", 8));
        if (bfd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot open '{path}': {LibC.Describe(errno)}.");
        }

        return new BlockFile(path, bfd, false, reason);
    }

    /// <summary>
    /// Some file systems accept <c>O_DIRECT</c> at open but refuse the I/O. Reads one aligned block at offset 0 (the
    /// file must be at least one block long); when that fails with EINVAL the file is reopened buffered. Returns
    /// <see cref="IsDirect"/>.
    /// </summary>
    public bool ConfirmDirect()
    {
        if (!IsDirect)
        {
            return false;
        }

        void* buf = NativeMemory.AlignedAlloc(Alignment, Alignment);
        try
        {
            nint r = LibC.PRead(_fd, buf, Alignment, 0);
            if (r >= 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EInval)
            {
                return true; // another error is the disk's, not O_DIRECT's: reads will report it.
            }

            int fd = LibC.Open(Path, LibC.ORdWr | LibC.OCloExec, 0);
            if (fd < 0)
            {
                return true;
            }

            LibC.Close(_fd);
            _fd = fd;
            IsDirect = false;
            FallbackReason = $"O_DIRECT reads fail: {LibC.Describe(errno)}";
            return false;
        }
        finally
        {
            NativeMemory.AlignedFree(buf);
        }
    }

    /// <summary>Reads up to <paramref name="length"/> bytes at <paramref name="offset"/>; returns the bytes read (fewer at end of file) or a negative errno.</summary>
    public long ReadAt(nint buffer, long length, long offset) => Vectored([new IoSegment(buffer, (nint)length)], offset, write: false);

    /// <summary>Writes <paramref name="length"/> bytes at <paramref name="offset"/>; returns the length or a negative errno.</summary>
    public long WriteAt(nint buffer, long length, long offset) => Vectored([new IoSegment(buffer, (nint)length)], offset, write: true);

    /// <summary>
    /// Reads into several buffers from consecutive file bytes at <paramref name="offset"/> (one <c>preadv</c>, so the
    /// payload can land in the caller's buffer and the header in a small one); returns the bytes read or a negative errno.
    /// </summary>
    public long ReadAt(ReadOnlySpan<IoSegment> segments, long offset) => Vectored(segments, offset, write: false);

    /// <summary>Writes several buffers to consecutive file bytes at <paramref name="offset"/>; returns the bytes written or a negative errno.</summary>
    public long WriteAt(ReadOnlySpan<IoSegment> segments, long offset) => Vectored(segments, offset, write: true);

    /// <summary>Reserves disk blocks for <c>[offset, offset + length)</c>; returns 0 or the errno (ENOSPC, EOPNOTSUPP).</summary>
    public int Allocate(long offset, long length)
    {
        while (true)
        {
            if (LibC.FAllocate(_fd, 0, offset, length) == 0)
            {
                return 0;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EIntr)
            {
                return errno;
            }
        }
    }

    // One loop for every read and write: retries EINTR and resumes a short transfer where it stopped.
    private long Vectored(ReadOnlySpan<IoSegment> segments, long offset, bool write)
    {
        Span<IoSegment> iov = stackalloc IoSegment[segments.Length];
        segments.CopyTo(iov);
        long total = 0;
        int first = 0;
        while (first < iov.Length)
        {
            nint r;
            fixed (IoSegment* p = &iov[first])
            {
                r = write ? LibC.PWriteV(_fd, p, iov.Length - first, offset + total) : LibC.PReadV(_fd, p, iov.Length - first, offset + total);
            }

            if (r < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EIntr)
                {
                    continue;
                }

                return -errno;
            }

            if (r == 0)
            {
                return write ? -LibC.EIo : total; // end of file on a read
            }

            total += r;

            // A short transfer: skip the pieces done and resume inside the one cut.
            first = IoSegment.Skip(iov, first, r);
        }

        return total;
    }

    /// <summary>Sets the file's length (sparse growth or truncation); returns 0 or the errno.</summary>
    public int SetLength(long length) => LibC.FTruncate(_fd, length) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The file's length in bytes.</summary>
    public long Length => new FileInfo(Path).Length;

    /// <summary>Makes written data durable (<c>fdatasync</c>); returns 0 or the errno.</summary>
    public int Sync() => LibC.FDataSync(_fd) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Describes an errno value returned by this class.</summary>
    public static string Describe(long negativeErrno) => LibC.Describe((int)-negativeErrno);

    /// <inheritdoc />
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.Close(fd);
        }
    }
}
