using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// One io_uring instance through raw syscalls (<c>io_uring_setup</c>, <c>io_uring_enter</c>) and the three shared
/// mappings (submission ring, completion ring, SQE array); no liburing. Single producer and single consumer: one thread
/// calls <see cref="TryGetSqe"/>, <see cref="Enter"/> and <see cref="TryReap"/>. The kernel reads the submission tail
/// and writes the completion tail concurrently, so those are read and written with acquire/release ordering
/// (<see cref="Volatile"/>), as liburing's <c>io_uring_smp_load_acquire</c>/<c>store_release</c> do.
/// </summary>
internal sealed unsafe class IoUring : IDisposable
{
    public const byte OpReadV = 1;
    public const byte OpWriteV = 2;

    // Same numbers on x86-64 and arm64 (io_uring came after the syscall tables were unified).
    private const long SysSetup = 425;
    private const long SysEnter = 426;
    private const uint EnterGetEvents = 1;
    private const long OffSqRing = 0;
    private const long OffCqRing = 0x8000000;
    private const long OffSqes = 0x10000000;

    private readonly int _fd;
    private readonly byte* _sqRing;
    private readonly nuint _sqRingBytes;
    private readonly byte* _cqRing;
    private readonly nuint _cqRingBytes;
    private readonly Sqe* _sqes;
    private readonly nuint _sqesBytes;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly Cqe* _cqes;
    private uint _sqLocalTail;
    private uint _sqPublished;
    private int _disposed;

    private IoUring(int fd, in Params p, byte* sqRing, nuint sqRingBytes, byte* cqRing, nuint cqRingBytes, Sqe* sqes, nuint sqesBytes)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingBytes = sqRingBytes;
        _cqRing = cqRing;
        _cqRingBytes = cqRingBytes;
        _sqes = sqes;
        _sqesBytes = sqesBytes;
        Entries = p.SqEntries;
        _sqHead = (uint*)(sqRing + p.SqOff.Head);
        _sqTail = (uint*)(sqRing + p.SqOff.Tail);
        _sqMask = *(uint*)(sqRing + p.SqOff.RingMask);
        _cqHead = (uint*)(cqRing + p.CqOff.Head);
        _cqTail = (uint*)(cqRing + p.CqOff.Tail);
        _cqMask = *(uint*)(cqRing + p.CqOff.RingMask);
        _cqes = (Cqe*)(cqRing + p.CqOff.Cqes);
        _sqLocalTail = *_sqTail;
        _sqPublished = _sqLocalTail;

        // The indirection array maps ring positions to SQE indices: identity, set once.
        uint* array = (uint*)(sqRing + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++)
        {
            array[i] = i;
        }
    }

    /// <summary>Submission queue entries (a power of two at least the number asked for).</summary>
    public uint Entries { get; }

    /// <summary>
    /// Sets up a ring of at least <paramref name="entries"/> entries, or returns null and why not: ENOSYS (a kernel
    /// without io_uring), EPERM (seccomp, or <c>kernel.io_uring_disabled</c>), EINVAL (too old), ENOMEM (locked-memory limit).
    /// </summary>
    public static IoUring? TryCreate(uint entries, out string failure)
    {
        failure = "";
        if (!OperatingSystem.IsLinux())
        {
            failure = "io_uring is Linux only";
            return null;
        }

        Params p = default;
        int fd = (int)LibC.Syscall(SysSetup, entries, (long)&p, 0, 0, 0, 0);
        if (fd < 0)
        {
            failure = $"io_uring_setup failed: {LibC.Describe(Marshal.GetLastPInvokeError())}";
            return null;
        }

        const int prot = LibC.ProtReadWrite;
        const int flags = LibC.MapShared | LibC.MapPopulate;
        nuint sqBytes = p.SqOff.Array + (p.SqEntries * sizeof(uint));
        nuint cqBytes = p.CqOff.Cqes + (p.CqEntries * (uint)sizeof(Cqe));
        nuint sqesBytes = p.SqEntries * (uint)sizeof(Sqe);
        byte* sq = (byte*)LibC.MMap(null, sqBytes, prot, flags, fd, OffSqRing);
        byte* cq = (byte*)LibC.MMap(null, cqBytes, prot, flags, fd, OffCqRing);
        var sqes = (Sqe*)LibC.MMap(null, sqesBytes, prot, flags, fd, OffSqes);
        if (sq == (byte*)-1 || cq == (byte*)-1 || sqes == (Sqe*)-1)
        {
            failure = $"mapping the io_uring rings failed: {LibC.Describe(Marshal.GetLastPInvokeError())}";
            Unmap(sq, sqBytes);
            Unmap(cq, cqBytes);
            Unmap(sqes, sqesBytes);
            LibC.Close(fd);
            return null;
        }

        return new IoUring(fd, p, sq, sqBytes, cq, cqBytes, sqes, sqesBytes);
    }

    /// <summary>A zeroed submission entry to fill, or false when the submission ring is full.</summary>
    public bool TryGetSqe(out Sqe* sqe)
    {
        // The kernel advances the head as it consumes entries: acquire, so their slots are free to reuse.
        if (_sqLocalTail - Volatile.Read(ref *_sqHead) >= Entries)
        {
            sqe = null;
            return false;
        }

        sqe = &_sqes[_sqLocalTail & _sqMask];
        *sqe = default;
        _sqLocalTail++;
        return true;
    }

    /// <summary>A vectored read or write of <paramref name="count"/> pieces at <paramref name="iov"/>, tagged with <paramref name="userData"/>.</summary>
    public static void PrepareVectored(Sqe* sqe, byte opcode, int fd, IoSegment* iov, int count, long offset, ulong userData)
    {
        sqe->Opcode = opcode;
        sqe->Fd = fd;
        sqe->Address = (ulong)iov;
        sqe->Length = (uint)count;
        sqe->Offset = (ulong)offset;
        sqe->UserData = userData;
    }

    /// <summary>
    /// Submits the entries filled since the last call and, when <paramref name="waitFor"/> is positive, waits until that
    /// many completions are ready. Returns 0 or an errno (EINTR: a signal; the caller loops).
    /// </summary>
    public int Enter(uint waitFor)
    {
        // Release: the filled entries must be visible before the kernel sees the new tail.
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        uint submit = _sqLocalTail - _sqPublished;
        long r = LibC.Syscall(SysEnter, _fd, submit, waitFor, waitFor > 0 ? EnterGetEvents : 0, 0, 0);
        if (r < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        _sqPublished += (uint)r;
        return 0;
    }

    /// <summary>Takes the next completion, or false when none is ready.</summary>
    public bool TryReap(out Cqe cqe)
    {
        uint head = *_cqHead;

        // Acquire: the entry's contents are visible once the kernel's tail is.
        if (head == Volatile.Read(ref *_cqTail))
        {
            cqe = default;
            return false;
        }

        cqe = _cqes[head & _cqMask];

        // Release: the kernel may reuse the entry only after it was copied out.
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Unmap(_sqes, _sqesBytes);
        Unmap(_cqRing, _cqRingBytes);
        Unmap(_sqRing, _sqRingBytes);
        LibC.Close(_fd);
    }

    private static void Unmap(void* p, nuint bytes)
    {
        if (p != null && p != (void*)-1)
        {
            LibC.MUnmap(p, bytes);
        }
    }

    /// <summary><c>struct io_uring_sqe</c> (64 bytes); only the fields the tier uses are named, the rest stay zero.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    internal struct Sqe
    {
        [FieldOffset(0)]
        public byte Opcode;

        [FieldOffset(4)]
        public int Fd;

        [FieldOffset(8)]
        public ulong Offset;

        [FieldOffset(16)]
        public ulong Address;

        [FieldOffset(24)]
        public uint Length;

        [FieldOffset(32)]
        public ulong UserData;
    }

    /// <summary><c>struct io_uring_cqe</c>: the tag, and the result (bytes, or a negative errno).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Cqe
    {
        public ulong UserData;
        public int Result;
        public uint Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SqRingOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CqRingOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;
        public ulong UserAddr;
    }

    /// <summary><c>struct io_uring_params</c> (120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }
}
