using System.Runtime.CompilerServices;

namespace TierKv.Curves;

/// <summary>
/// Carries a tier's accesses to its <see cref="MissRatioCurveEstimator"/> off the tier's path: the tier (one writer,
/// under its lock) appends an access to a batch, a full batch is published, and a thread-pool work item simulates the
/// published batches in order, one work item at a time. The estimator sees exactly the stream it would have seen
/// inline, so its figures do not depend on the hand-over (only when: its counters lag by at most the queue). The tier
/// pays an append of 33 bytes per access instead of the simulation; on a machine with a spare core the simulation
/// costs the tier nothing in wall time, on a busy one what it costs in processor time (measured by
/// <c>tierkv replay</c>'s <c>estimator_cpu_throughput_ratio</c>). A tier that outruns the simulation by a whole queue
/// waits for a batch to finish (bounded memory, nothing dropped: a dropped batch would cut prefix chains).
/// </summary>
internal sealed class ObservationQueue : IThreadPoolWorkItem
{
    /// <summary>Accesses per batch.</summary>
    public const int BatchSize = 64;

    /// <summary>Batches in the queue.</summary>
    public const int Batches = 32;

    /// <summary>Batches waiting before a work item is started: a wake-up of a pool thread per this many accesses, not per batch.</summary>
    private const int WakeBatches = 8;

    private readonly MissRatioCurveEstimator _owner;
    private readonly ChunkKey[] _keys = new ChunkKey[BatchSize * Batches];
    private readonly ChunkKey[] _parents = new ChunkKey[BatchSize * Batches];
    private readonly bool[] _hasParent = new bool[BatchSize * Batches];
    private readonly int[] _lengths = new int[Batches];
    private long _published;
    private long _consumed;
    private int _filled;
    private int _draining;

    public ObservationQueue(MissRatioCurveEstimator owner) => _owner = owner;

    /// <summary>Bytes of the queue's arrays.</summary>
    public static long MemoryBytes => (BatchSize * Batches * 33L) + (Batches * 4L);

    /// <summary>Appends one access (the tier's single writer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in ChunkKey key, ChunkKey? parent)
    {
        if (_filled == 0)
        {
            WaitForRoom();
        }

        int i = ((int)(_published % Batches) * BatchSize) + _filled;
        _keys[i] = key;
        _hasParent[i] = parent.HasValue;
        _parents[i] = parent.GetValueOrDefault();
        if (++_filled == BatchSize)
        {
            Publish(wake: false);
        }
    }

    /// <summary>
    /// Publishes the partial batch and waits until every access so far is simulated; afterwards no work item runs
    /// until the next <see cref="Add"/> fills a batch. The tier is quiet (no <see cref="Add"/> at the same time).
    /// </summary>
    public void Drain()
    {
        Publish(wake: true);

        var spin = new SpinWait();
        while (Volatile.Read(ref _consumed) < _published || Volatile.Read(ref _draining) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>The work item: simulates published batches in order until none is left.</summary>
    public void Execute()
    {
        while (true)
        {
            long consumed = _consumed;
            while (consumed < Volatile.Read(ref _published))
            {
                int b = (int)(consumed % Batches);
                int start = b * BatchSize;
                int end = start + _lengths[b];
                for (int i = start; i < end; i++)
                {
                    _owner.Simulate(_keys[i], _hasParent[i] ? _parents[i] : null);
                }

                Volatile.Write(ref _consumed, ++consumed);
            }

            // Published after the read above and before this flag cleared: take it (the writer saw the flag set).
            Interlocked.Exchange(ref _draining, 0);
            if (consumed == Volatile.Read(ref _published) || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Publishes the batch being filled (if any), and starts a work item when enough wait or <paramref name="wake"/>.</summary>
    private void Publish(bool wake)
    {
        if (_filled > 0)
        {
            _lengths[(int)(_published % Batches)] = _filled;
            _filled = 0;
            Volatile.Write(ref _published, _published + 1);
        }

        long waiting = _published - Volatile.Read(ref _consumed);
        if (waiting > 0 && (wake || waiting >= WakeBatches) && Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    private void WaitForRoom()
    {
        if (_published - Volatile.Read(ref _consumed) < Batches)
        {
            return;
        }

        Publish(wake: true);
        var spin = new SpinWait();
        while (_published - Volatile.Read(ref _consumed) >= Batches)
        {
            spin.SpinOnce();
        }
    }
}
