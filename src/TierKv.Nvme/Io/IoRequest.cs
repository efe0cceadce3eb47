using System.Threading.Tasks.Sources;

namespace TierKv.Nvme.Io;

/// <summary>
/// One positioned read or write handed to an <see cref="IoEngine"/> thread. Pooled: awaiting it returns it to the
/// engine, so steady-state I/O allocates nothing. A request with a <see cref="Completion"/> is not awaited; the
/// callback runs on the I/O thread instead (write-behind).
/// </summary>
internal sealed class IoRequest : IValueTaskSource<long>
{
    private readonly IoEngine _engine;
    private ManualResetValueTaskSourceCore<long> _core;

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

    /// <summary>Runs on the I/O thread just before the syscall (checksumming there spreads CPU over the I/O threads).</summary>
    public Action<IoRequest>? Prepare { get; set; }

    /// <summary>Runs on the I/O thread right after the syscall with its result (verification there, for the same reason); returns the result to report.</summary>
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
    /// Runs on an engine thread: prepares (copy, checksum), then a read goes straight to its syscall, and a write to the
    /// device when a write slot is free, else it is left for the thread that next finishes a write (see
    /// <see cref="IoEngine.IssueWrite"/>).
    /// </summary>
    public void Execute()
    {
        Prepare?.Invoke(this);
        if (IsWrite)
        {
            _engine.IssueWrite(this);
        }
        else
        {
            Finish(Transfer());
        }
    }

    /// <summary>The syscall (or the injected fault); a negative errno on failure.</summary>
    public long Transfer()
    {
        var file = File!;
        long r;
        if (_engine.Faults is { } faults)
        {
            r = ExecuteWithFault(file, faults.Next(IsWrite, Offset, TotalLength));
        }
        else if (SegmentCount == 1)
        {
            r = IsWrite ? file.WriteAt(Segment0.Base, Segment0.Length, Offset) : file.ReadAt(Segment0.Base, Segment0.Length, Offset);
        }
        else
        {
            r = ExecuteSegments(file);
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
    private long TotalLength => SegmentCount switch
    {
        1 => Segment0.Length,
        2 => Segment0.Length + Segment1.Length,
        _ => Segment0.Length + Segment1.Length + Segment2.Length,
    };

    /// <summary>The I/O as an injected <paramref name="fault"/> would have it (see <see cref="MediumFault"/>).</summary>
    private unsafe long ExecuteWithFault(BlockFile file, MediumFault fault)
    {
        switch (fault)
        {
            case MediumFault.Fail:
                return -LibC.EIo;
            case MediumFault.NoSpace:
                return -LibC.ENoSpc;
            case MediumFault.Short or MediumFault.Torn:
                {
                    // Half of the first piece, rounded to the page (O_DIRECT transfers whole pages).
                    long half = Math.Max(BlockFile.Alignment, Segment0.Length / 2 / BlockFile.Alignment * BlockFile.Alignment);
                    long r = IsWrite ? file.WriteAt(Segment0.Base, half, Offset) : file.ReadAt(Segment0.Base, half, Offset);
                    return r < 0 || fault == MediumFault.Short || !IsWrite ? r : TotalLength;
                }

            default:
                {
                    long r = SegmentCount == 1
                        ? (IsWrite ? file.WriteAt(Segment0.Base, Segment0.Length, Offset) : file.ReadAt(Segment0.Base, Segment0.Length, Offset))
                        : ExecuteSegments(file);
                    if (fault == MediumFault.FlipByte && !IsWrite && r > 0)
                    {
                        var last = SegmentCount == 1 ? Segment0 : Segment1;
                        ((byte*)last.Base)[last.Length / 2] ^= 0x5A;
                    }

                    return r;
                }
        }
    }

    private long ExecuteSegments(BlockFile file)
    {
        Span<IoSegment> segs = [Segment0, Segment1, Segment2];
        return IsWrite ? file.WriteAt(segs[..SegmentCount], Offset) : file.ReadAt(segs[..SegmentCount], Offset);
    }

    public long GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
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
