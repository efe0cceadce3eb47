using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// Native memory for <c>O_DIRECT</c> transfers: aligned to 2 MiB and backed by transparent huge pages where the kernel
/// allows (<c>madvise(MADV_HUGEPAGE)</c>), so each 2 MiB of a buffer is physically contiguous. Why it matters: the
/// block layer builds one request from at most <c>max_segments</c> physically contiguous pieces (254 on a virtio disk).
/// Ordinary 4 KiB pages land scattered (4 to 8 KiB runs measured), so a 32 MiB write from them becomes 16 to 32
/// requests of 1 to 2 MiB; from huge pages it becomes 8 requests of 4 MiB (the device's <c>max_sectors_kb</c>),
/// measured up to twice as fast on the development VM (docs/ssd-tier.md, "Where the write path lost time").
/// </summary>
public static unsafe class DirectIoMemory
{
    /// <summary>The huge page size the buffers are aligned to.</summary>
    public const int HugePage = 2 << 20;

    /// <summary>
    /// Allocates <paramref name="bytes"/> zeroed bytes aligned to <see cref="HugePage"/> (to the 4 KiB page below one huge
    /// page), asking for huge pages. Where
    /// huge pages are off or unavailable the memory is ordinary pages (still page-aligned; only slower for the disk).
    /// Free with <see cref="Free"/>.
    /// </summary>
    /// <exception cref="OutOfMemoryException">The memory could not be allocated.</exception>
    public static nint Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        var p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, (nuint)(bytes >= HugePage ? HugePage : BlockFile.Alignment));
        if (p == 0)
        {
            throw new OutOfMemoryException($"Could not allocate {bytes} bytes for direct I/O.");
        }

        // Advice only: a kernel without THP (or with it off) answers EINVAL and the memory stays ordinary pages.
        long whole = bytes / HugePage * HugePage;
        if (whole > 0 && OperatingSystem.IsLinux())
        {
            _ = LibC.MAdvise((void*)p, (nuint)whole, LibC.MAdvHugePage);
        }

        // Touch every page now (zeroing it), so the huge pages are taken at allocation and not on the hot path.
        NativeMemory.Clear((void*)p, (nuint)bytes);
        return p;
    }

    /// <summary>Frees memory from <see cref="Allocate"/>.</summary>
    public static void Free(nint pointer) => NativeMemory.AlignedFree((void*)pointer);
}
