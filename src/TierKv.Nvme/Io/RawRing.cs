using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// Raw <c>O_DIRECT</c> transfers of whole consecutive blocks through one io_uring, a fixed number in flight, submitted
/// and reaped by the calling thread: nothing but the ring (no header, checksum, index or thread hand-off). The io_uring
/// half of the baseline <c>tierkv bench ssd</c> holds the SSD tier to, beside blocking threads, so the tier's own
/// io_uring path is never compared with a slower way of driving the same disk.
/// </summary>
public sealed unsafe class RawRing : IDisposable
{
    private readonly IoUring _ring;
    private readonly int _depth;
    private readonly IoSegment* _iovs;
    private int _disposed;

    private RawRing(IoUring ring, int depth)
    {
        _ring = ring;
        _depth = depth;
        _iovs = (IoSegment*)NativeMemory.AllocZeroed((nuint)(depth * sizeof(IoSegment)));
    }

    /// <summary>A ring that keeps <paramref name="depth"/> transfers in flight, or null and why not (io_uring refused).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="depth"/> is not in [1, 256].</exception>
    public static RawRing? TryCreate(int depth, out string failure)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, 256);
        var ring = IoUring.TryCreate((uint)depth, out failure);
        return ring is null ? null : new RawRing(ring, depth);
    }

    /// <summary>
    /// Writes or reads blocks <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 of
    /// <paramref name="blockBytes"/> each (block i at offset i x <paramref name="blockBytes"/>), block i from or into
    /// <c>buffers[i % buffers.Length]</c> (page-aligned, at least <paramref name="blockBytes"/> long). Returns how many
    /// transfers failed or fell short (0 when all moved every byte).
    /// </summary>
    public int Run(BlockFile file, ReadOnlySpan<nint> buffers, long blockBytes, int first, int count, bool write)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (buffers.IsEmpty)
        {
            throw new ArgumentException("At least one buffer is needed.", nameof(buffers));
        }

        int failed = 0;
        int submitted = 0;
        int done = 0;
        int inFlight = 0;
        var free = new Stack<int>(_depth);
        for (int i = _depth - 1; i >= 0; i--)
        {
            free.Push(i);
        }

        while (done < count)
        {
            while (submitted < count && inFlight < _depth && _ring.TryGetSqe(out var sqe))
            {
                int lane = free.Pop();
                int block = first + submitted;
                _iovs[lane] = new IoSegment(buffers[block % buffers.Length], (nint)blockBytes);
                IoUring.PrepareVectored(sqe, write ? IoUring.OpWriteV : IoUring.OpReadV, file.Descriptor, _iovs + lane, 1, block * blockBytes, (ulong)lane);
                submitted++;
                inFlight++;
            }

            int e = _ring.Enter(1);
            if (e is not 0 and not LibC.EIntr)
            {
                throw new IOException($"io_uring_enter failed on '{file.Path}': {LibC.Describe(e)}.");
            }

            while (_ring.TryReap(out var cqe))
            {
                free.Push((int)cqe.UserData);
                inFlight--;
                done++;
                failed += cqe.Result == blockBytes ? 0 : 1;
            }
        }

        return failed;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _ring.Dispose();
        NativeMemory.Free(_iovs);
    }
}
