using System.Collections.Concurrent;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme;

/// <summary>
/// Chunk reads. A read into page-aligned memory needs only one page of staging (the header) and has its own permits,
/// so a read never waits for the write-behind queue's room: under a write burst every staging buffer is busy with a
/// write for tens of milliseconds, and a read that needed one waited for a write to finish first.
/// </summary>
public sealed partial class NvmeTier
{
    private readonly SemaphoreSlim _readPermits;
    private readonly ConcurrentStack<StagingBuffer> _headerPages = new();

    // Zero-copy writes' frames: apart from the reads' header pages, which a read fills with whatever the disk held, so
    // a frame's padding stays the zeros it was allocated with.
    private readonly ConcurrentStack<StagingBuffer> _frames = new();

    /// <inheritdoc />
    public async ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int slot;
        int length;
        while (!TryPin(key, out slot, out length, out var staged))
        {
            if (staged is null)
            {
                return TierReadStatus.Miss;
            }

            // Written a moment ago and still on its way to the disk: wait for it rather than miss a chunk the tier accepted.
            await staged.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        StagingBuffer? buf = null;
        SemaphoreSlim? permit = null;
        bool direct = false;
        System.Buffers.MemoryHandle pin = default;
        try
        {
            if (destination.Length < length)
            {
                throw new ArgumentException($"The destination holds {destination.Length} bytes but the chunk has {length}.", nameof(destination));
            }

            pin = destination.Pin();
            nint dest = PointerOf(pin);
            direct = IsPageAligned(dest, length);
            var room = direct ? _readPermits : _permits;
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            permit = room;
            buf = direct ? RentHeaderPage() : RentBuffer();
            var req = _engine.Rent();
            req.File = FileOf(slot);
            req.Offset = OffsetOf(slot);
            req.IsWrite = false;
            if (direct)
            {
                // Zero copy: the header page into a staging page, the payload straight into the caller's memory.
                req.Segment0 = new IoSegment(buf.Pointer, BlockFile.Alignment);
                req.Segment1 = new IoSegment(dest, length);
                req.SegmentCount = 2;
            }
            else
            {
                req.SetBuffer(buf.Pointer, BlockFile.Alignment + NvmeTierOptions.AlignUp(length));
            }

            buf.Layout = layout;
            buf.Key = key;
            buf.PayloadLength = length;
            buf.Payload = direct ? dest : 0;
            buf.Destination = dest;
            buf.Damage = ChunkDamage.None;
            req.State = buf;
            req.AfterIo = VerifyOnIoThread;
            long r = await _engine.RunAsync(req).ConfigureAwait(false);
            if (r < 0)
            {
                RecordIoError("read");
                Drop(slot, key);
                return TierReadStatus.Failed;
            }

            var damage = buf.Damage;
            if (damage != ChunkDamage.None)
            {
                Interlocked.Increment(ref _damagedReads);
                if (_counters is not null)
                {
                    _metrics!.RecordChecksumFailure(_counters, damage.ToString());
                }

                Drop(slot, key);
                return TierReadStatus.Damaged;
            }

            return TierReadStatus.Hit;
        }
        finally
        {
            pin.Dispose();
            if (buf is not null)
            {
                buf.Layout = null;
                (direct ? _headerPages : _buffers).Push(buf);
            }

            permit?.Release();
            Unpin(slot);
        }
    }

    /// <summary>One page for a zero-copy read's header; at most <see cref="NvmeTierOptions.EffectiveStagingBuffers"/> exist (one per read permit).</summary>
    private StagingBuffer RentHeaderPage() =>
        _headerPages.TryPop(out var b) ? b : new StagingBuffer(this, DirectIoMemory.Allocate(BlockFile.Alignment));

    /// <summary>A zero-copy write's header and trailer pages (zeroed once); at most one per write permit.</summary>
    private StagingBuffer RentFrame() =>
        _frames.TryPop(out var b) ? b : new StagingBuffer(this, DirectIoMemory.Allocate(2 * BlockFile.Alignment));
}
