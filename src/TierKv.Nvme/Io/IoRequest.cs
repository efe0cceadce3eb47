using System.Threading.Tasks.Sources;

namespace TierKv.Nvme.Io;

/// <summary>
/// One positioned read or write handed to an <see cref="IoEngine"/>. Pooled: awaiting it returns it to the
/// engine, so steady-state I/O allocates nothing. A request with a <see cref="Completion"/> is not awaited; the
/// callback runs on the I/O thread instead (write-behind).
/// </summary>
internal sealed class IoRequest : IValueTaskSource<long>, IThreadPoolWorkItem
{
    private readonly IoEngine _engine;
    private ManualResetValueTaskSourceCore<long> _core;
    private MediumFault _fault;

    public IoRequest(IoEngine engine)
    {
        _engine = engine;

        // Continuations go to the thread pool: caller code must never run on (and block, or dispose) an I/O thread.
        _core.RunContinuationsAsynchronously = true;
    }

    public BlockFile? File { get; set; }

    /// <summary>Up to three pieces (header block, payload, trailer block); <see cref="SegmentCount"/> of them are used.</summary>
    public IoSegment Segment0 { get; set; }

    public IoSegment Segment1 { get; set; }

    public IoSegment Segment2 { get; set; }

    public int SegmentCount { get; set; }

    /// <summary>Runs on an I/O thread just before the transfer (checksumming there spreads CPU over the I/O threads).</summary>
    public Action<IoRequest>? Prepare { get; set; }

    /// <summary>Runs on an I/O thread right after the transfer with its result (verification there, for the same reason); returns the result to report.</summary>
    public Func<IoRequest, long, long>? AfterIo { get; set; }

    /// <summary>One contiguous buffer.</summary>
    public void SetBuffer(nint buffer, long length)
    {
        Segment0 = new IoSegment(buffer, (nint)length);
        SegmentCount = 1;
    }

    public long Offset { get; set; }

    public bool IsWrite { get; set; }

    public bool SyncAfterWrite { get; set; }

    /// <summary>Callback for requests nobody awaits; receives the result and the request's <see cref="State"/>.</summary>
    public Action<long, object?>? Completion { get; set; }

    public object? State { get; set; }

    public ValueTask<long> AsValueTask() => new(this, _core.Version);

    /// <summary>
    /// Completes an awaited request on a thread-pool thread (the io_uring path's reads): verification, then the
    /// awaiter's continuation inline on the same thread, one thread hop after the completion instead of two.
    /// </summary>
    void IThreadPoolWorkItem.Execute()
    {
        _core.RunContinuationsAsynchronously = false;
        Finish(Result);
    }

    /// <summary>The result a ring thread hands to a completion thread with the request.</summary>
    public long Result { get; set; }

    /// <summary>The blocking syscall (the thread path), or the injected fault; the bytes, or a negative errno.</summary>
    public long Transfer()
    {
        Span<IoSegment> pieces = stackalloc IoSegment[3];
        if (!BeginTransfer(pieces, out int count, out long r))
        {
            return r;
        }

        var file = File!;
        r = IsWrite ? file.WriteAt(pieces[..count], Offset) : file.ReadAt(pieces[..count], Offset);
        return EndTransfer(r);
    }

    /// <summary>
    /// Both submission paths start every transfer here, so an injected fault (<see cref="MediumFault"/>) acts the same on
    /// both: writes the pieces to transfer into <paramref name="pieces"/> (three at most), or returns false when the call
    /// transfers nothing and <paramref name="result"/> is its negative errno.
    /// </summary>
    public bool BeginTransfer(Span<IoSegment> pieces, out int count, out long result)
    {
        _fault = _engine.Faults?.Next(IsWrite, Offset, TotalLength) ?? MediumFault.None;
        result = 0;
        count = 0;
        switch (_fault)
        {
            case MediumFault.Fail:
                result = -LibC.EIo;
                return false;
            case MediumFault.NoSpace:
                result = -LibC.ENoSpc;
                return false;
            case MediumFault.Short or MediumFault.Torn:
                // Half of the first piece, rounded to the page (O_DIRECT transfers whole pages).
                pieces[0] = new IoSegment(Segment0.Base, (nint)Math.Max(BlockFile.Alignment, Segment0.Length / 2 / BlockFile.Alignment * BlockFile.Alignment));
                count = 1;
                return true;
            default:
                pieces[0] = Segment0;
                pieces[1] = Segment1;
                pieces[2] = Segment2;
                count = SegmentCount;
                return true;
        }
    }

    /// <summary>The result of a transfer from <see cref="BeginTransfer"/> as the tier sees it: the fault applied, a short write a failed one.</summary>
    public unsafe long EndTransfer(long r)
    {
        if (_fault == MediumFault.Torn && IsWrite && r >= 0)
        {
            r = TotalLength; // the lying disk reports every byte
        }
        else if (_fault == MediumFault.FlipByte && !IsWrite && r > 0)
        {
            var last = SegmentCount == 1 ? Segment0 : Segment1;
            ((byte*)last.Base)[last.Length / 2] ^= 0x5A;
        }

        if (IsWrite && r >= 0 && r < TotalLength)
        {
            // A short write leaves part of the slot old: the chunk is not on disk.
            r = -LibC.EIo;
        }

        return r;
    }

    /// <summary>Verification, sync, then the result to its awaiter or callback; the request must not be touched afterwards.</summary>
    public void Finish(long r)
    {
        var file = File!;
        if (AfterIo is { } after)
        {
            r = after(this, r);
        }

        if (r >= 0 && IsWrite && SyncAfterWrite)
        {
            int e = file.Sync();
            if (e != 0)
            {
                r = -e;
            }
        }

        if (Completion is { } done)
        {
            var state = State;
            Clear();
            _engine.Return(this);
            done(r, state);
        }
        else
        {
            _core.SetResult(r);
        }
    }

    /// <summary>
    /// The pieces lie at consecutive file offsets and go in one vectored call, so the device sees one large transfer.
    /// (Separate calls for the header and trailer pages were measured: each small O_DIRECT write waited 20 to 50 ms
    /// behind the large ones, about half of a chunk write's time.) A torn transfer is caught by the checksums.
    /// </summary>
    public long TotalLength => SegmentCount switch
    {
        1 => Segment0.Length,
        2 => Segment0.Length + Segment1.Length,
        _ => Segment0.Length + Segment1.Length + Segment2.Length,
    };

    public long GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _core.RunContinuationsAsynchronously = true;
            Clear();
            _engine.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Clear()
    {
        File = null;
        Prepare = null;
        AfterIo = null;
        Completion = null;
        State = null;
        SyncAfterWrite = false;
    }
}
