using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// The few libc calls the SSD tier needs. .NET's <c>FileOptions</c> cannot ask for <c>O_DIRECT</c> on Linux, so files
/// are opened and read here, the way Tsavorite's <c>LinuxFileExtensions</c> does.
/// </summary>
internal static unsafe partial class LibC
{
    public const int ORdOnly = 0;
    public const int ORdWr = 2;
    public const int OCreat = 0x40;
    public const int OCloExec = 0x80000;

    public const int EPerm = 1;
    public const int EIntr = 4;
    public const int EIo = 5;
    public const int EAgain = 11;
    public const int EInval = 22;
    public const int ENoSpc = 28;
    public const int ENoSys = 38;
    public const int EOpNotSupp = 95;

    public const int ProtReadWrite = 0x3;
    public const int MapShared = 0x01;
    public const int MapPopulate = 0x8000;
    public const int EfdNonBlock = 0x800;

    /// <summary><c>MADV_HUGEPAGE</c>: back the range with transparent huge pages where possible.</summary>
    public const int MAdvHugePage = 14;

    /// <summary><c>O_DIRECT</c> differs by architecture (x86-64 0x4000; arm64 0x10000).</summary>
    public static int ODirect => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, void* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    public static partial nint PReadV(int fd, IoSegment* iov, int iovcnt, long offset);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    public static partial nint PWriteV(int fd, IoSegment* iov, int iovcnt, long offset);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int FDataSync(int fd);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int MAdvise(void* address, nuint length, int advice);

    /// <summary>
    /// <c>syscall(2)</c>, for the io_uring calls glibc has no wrapper for. Variadic in C, but glibc's implementation only
    /// moves the registers into place, so passing six longs is safe on x86-64 and arm64.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int MUnmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    /// <summary>The message libc gives for <paramref name="errno"/>.</summary>
    public static string Describe(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";
}
