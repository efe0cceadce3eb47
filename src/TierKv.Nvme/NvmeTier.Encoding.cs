using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Nvme.Io;

namespace TierKv.Nvme;

/// <summary> The slot image: header, payload and trailer, written and verified on the I/O threads.</summary>
public sealed partial class NvmeTier
{
    private static unsafe nint PointerOf(System.Buffers.MemoryHandle pin) => (nint)pin.Pointer;

    private static bool IsPageAligned(nint pointer, int length) => pointer % BlockFile.Alignment == 0 && length % BlockFile.Alignment == 0;

    /// <summary>Checks what a read brought in. <paramref name="directPayload"/> is the caller's buffer when the payload went straight there.</summary>
    private static unsafe ChunkDamage VerifyRead(nint staging, nint directPayload, long bytesRead, int length, KvLayout layout, in ChunkKey key, nint destinationPointer)
    {
        var destination = new Span<byte>((void*)destinationPointer, length);
        if (bytesRead < BlockFile.Alignment + (long)length)
        {
            return ChunkDamage.Truncated;
        }

        if (directPayload != 0)
        {
            var damage = ChunkHeader.TryRead(new ReadOnlySpan<byte>((void*)(staging + HeaderOffset), ChunkHeader.Size), out var header);
            if (damage == ChunkDamage.None)
            {
                damage = ChunkCodec.VerifyHeader(header, layout.Fingerprint, key, layout.ChunkBytes);
            }

            if (damage == ChunkDamage.None && ChunkHeader.PayloadHash(new ReadOnlySpan<byte>((void*)directPayload, length)) != header.PayloadChecksum)
            {
                damage = ChunkDamage.BadChecksum;
            }

            return damage;
        }

        var encoded = new ReadOnlySpan<byte>((void*)(staging + HeaderOffset), ChunkHeader.Size + length);
        var d = ChunkCodec.Verify(encoded, layout, key, out var payload);
        if (d == ChunkDamage.None)
        {
            payload.CopyTo(destination);
        }

        return d;
    }

    /// <summary>
    /// Fills a write request for <paramref name="slot"/>. The slot gets one page whose last 64 bytes are the header, then
    /// the payload, then the trailer, padded to the page size. With <paramref name="zeroCopy"/>, <paramref name="buf"/> is a
    /// frame (<see cref="RentFrame"/>: header page, trailer page) and the payload goes from the caller's page-aligned
    /// <paramref name="source"/>; otherwise the payload is (or is copied on the I/O thread, when <paramref name="source"/>
    /// is not 0) in the slot-sized staging buffer after its header page.
    /// </summary>
    private IoRequest PrepareWrite(StagingBuffer buf, int slot, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length, nint source, bool zeroCopy)
    {
        buf.Slot = slot;
        buf.Layout = layout;
        buf.Key = key;
        buf.Parent = parent;
        buf.PayloadLength = length;
        buf.Sequence = Interlocked.Increment(ref _sequence);
        buf.Version = 0;
        buf.Priority = _table.Priorities?.PriorityOf(key) ?? 0;
        var req = _engine.Rent();
        req.File = FileOf(slot);
        req.Offset = OffsetOf(slot);
        req.IsWrite = true;
        req.SyncAfterWrite = _options.SyncWrites;
        req.Prepare = EncodeOnIoThread;
        req.State = buf;
        if (zeroCopy)
        {
            // Zero copy: one vectored write of the header page, the caller's payload and the trailer page (consecutive
            // in the file, so the device sees one transfer); only the checksum reads the payload. This was once slower
            // than copying; the cause was the caller's memory, not the vectoring: physically scattered 4 KiB pages make
            // several times more, smaller block requests than huge pages (DirectIoMemory).
            buf.Payload = source;
            buf.CopyFrom = 0;
            buf.Trailer = buf.Pointer + BlockFile.Alignment;
            req.Segment0 = new IoSegment(buf.Pointer, BlockFile.Alignment);
            req.Segment1 = new IoSegment(source, length);
            req.Segment2 = new IoSegment(buf.Trailer, BlockFile.Alignment);
            req.SegmentCount = 3;
            return req;
        }

        // One contiguous transfer from the staging buffer; the copy (and checksum) runs on the I/O thread.
        buf.Payload = buf.Pointer + BlockFile.Alignment;
        buf.CopyFrom = source;
        buf.Trailer = buf.Payload + length;
        req.SetBuffer(buf.Pointer, BlockFile.Alignment + NvmeTierOptions.AlignUp(length + (long)SlotTrailer.Size));
        return req;
    }

    /// <summary>Runs on the I/O thread: copy if needed, checksum the payload, write header and trailer.</summary>
    private static unsafe void Encode(IoRequest req)
    {
        var buf = (StagingBuffer)req.State!;
        int len = buf.PayloadLength;
        byte* p = (byte*)buf.Pointer;
        ulong hash;
        if (buf.CopyFrom != 0)
        {
            // Copy and checksum in one pass: each piece is hashed while it is still in the cache (a third less memory
            // traffic than copying 32 MiB and then reading it back to hash it). Same value as the one-shot XXH3-64.
            const int piece = 256 << 10;
            var hasher = buf.Hasher;
            hasher.Reset();
            byte* src = (byte*)buf.CopyFrom;
            byte* dst = p + BlockFile.Alignment;
            for (int off = 0; off < len; off += piece)
            {
                int n = Math.Min(piece, len - off);
                if (Avx.IsSupported)
                {
                    // Hash the source piece (that brings it into the cache), then copy it with non-temporal stores:
                    // the staging buffer is only read by the disk, so pulling its lines into the cache first (what a
                    // plain copy does) wastes a third of the memory traffic. Measured put/raw median 0.91 against
                    // 0.88 for copy-then-hash (docs/ssd-tier.md).
                    hasher.Append(new ReadOnlySpan<byte>(src + off, n));
                    StreamCopy(src + off, dst + off, n);
                }
                else
                {
                    var d = new Span<byte>(dst + off, n);
                    new ReadOnlySpan<byte>(src + off, n).CopyTo(d);
                    hasher.Append(d);
                }
            }

            hash = hasher.GetCurrentHashAsUInt64();
        }
        else
        {
            hash = ChunkHeader.PayloadHash(new ReadOnlySpan<byte>((void*)buf.Payload, len));
        }

        new ChunkHeader(buf.Layout!.Fingerprint, buf.Key, len, hash).WriteTo(new Span<byte>(p + HeaderOffset, ChunkHeader.Size));
        SlotTrailer.Write(new Span<byte>((void*)buf.Trailer, SlotTrailer.Size), buf.Key, buf.Parent, buf.Sequence, buf.Version, buf.Priority);

        // Padding is zero on disk: a staging buffer last used by a read (or by a longer chunk of another layout) still
        // holds that slot's bytes there, which would otherwise be written into this slot. At most two pages per write.
        new Span<byte>(p, HeaderOffset).Clear();
        nint afterTrailer = buf.Trailer + SlotTrailer.Size;
        new Span<byte>((void*)afterTrailer, (int)(NvmeTierOptions.AlignUp(afterTrailer) - afterTrailer)).Clear();
    }

    /// <summary>Copies with non-temporal 32-byte stores; <paramref name="dst"/> is 32-byte aligned (inside a page-aligned staging buffer).</summary>
    private static unsafe void StreamCopy(byte* src, byte* dst, int n)
    {
        int i = 0;
        for (; i + 128 <= n; i += 128)
        {
            var a = Vector256.Load(src + i);
            var b = Vector256.Load(src + i + 32);
            var c = Vector256.Load(src + i + 64);
            var d = Vector256.Load(src + i + 96);
            Avx.StoreAlignedNonTemporal(dst + i, a);
            Avx.StoreAlignedNonTemporal(dst + i + 32, b);
            Avx.StoreAlignedNonTemporal(dst + i + 64, c);
            Avx.StoreAlignedNonTemporal(dst + i + 96, d);
        }

        new ReadOnlySpan<byte>(src + i, n - i).CopyTo(new Span<byte>(dst + i, n - i));

        // Non-temporal stores are weakly ordered: fence so they are complete before the header is written and the
        // buffer goes to pwrite from this thread.
        Sse.StoreFence();
    }
}
