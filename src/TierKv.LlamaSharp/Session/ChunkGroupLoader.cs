using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using LLama.Native;
using TierKv.LlamaSharp.State;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// Restores chunks into a sequence group by group through a scratch sequence: each group's state blob is assembled into
/// one of two small buffers (so it is still in cache when llama.cpp reads it), read by <c>llama_state_seq_set_data</c>
/// into the scratch sequence (which llama.cpp empties first, so the target is never touched by a read), and shared with
/// the target by <c>llama_memory_seq_cp</c> (in a unified KV cache no data moves). With <see cref="Pipelined"/> the next
/// group is assembled on a worker thread while llama.cpp reads the current one. Not thread-safe, like the context.
/// </summary>
internal sealed class ChunkGroupLoader : IDisposable
{
    private readonly SafeLLamaContextHandle _ctx;
    private readonly nint[] _buffers = new nint[2];
    private readonly SemaphoreSlim[] _ready = [new(0), new(0)];
    private readonly SemaphoreSlim[] _free = [new(1), new(1)];
    private long _bufferBytes;
    private volatile bool _stop;
    private Exception? _error;

    public ChunkGroupLoader(SafeLLamaContextHandle context)
    {
        _ctx = context;
    }

    /// <summary>Chunks per group (at least 1).</summary>
    public int GroupChunks { get; set; } = 1;

    /// <summary>Whether the next group is assembled on a worker thread while llama.cpp reads the current one.</summary>
    public bool Pipelined { get; set; }

    /// <summary>
    /// Puts <paramref name="count"/> chunks (chunk i at positions from i × tokens per chunk) into the empty sequence
    /// <paramref name="seq"/> through the empty sequence <paramref name="scratch"/>, which is empty again afterwards.
    /// Returns the chunks restored: all, or those before the group llama.cpp refused (reported to <paramref name="warn"/>).
    /// </summary>
    public int Load(SequenceStateCodec codec, LLamaSeqId seq, LLamaSeqId scratch, nint[] chunks, int count, bool vTransposed, Action<string> warn, out RestorePhases phases)
    {
        int tpc = codec.Layout.TokensPerChunk;
        int group = Math.Min(GroupChunks, count);
        int groups = (count + group - 1) / group;
        EnsureBuffers(codec.BlobBytes(group * tpc));
        long assemble = 0, set = 0, share = 0;
        _stop = false;
        _error = null;
        Task? worker = Pipelined && groups > 1
            ? Task.Run(() => assemble = AssembleAll(codec, scratch, chunks, count, group, vTransposed))
            : null;
        int done = 0;
        try
        {
            for (int g = 0; g < groups && !_stop; g++)
            {
                int b = g % 2;
                int n = Math.Min(group, count - done);
                if (worker is null)
                {
                    long t = Stopwatch.GetTimestamp();
                    AssembleGroup(codec, scratch, chunks, done, n, b, vTransposed);
                    assemble += Stopwatch.GetTimestamp() - t;
                }
                else
                {
                    _ready[b].Wait();
                    if (_error is not null)
                    {
                        break;
                    }
                }

                long size = codec.BlobBytes(n * tpc);
                long t1 = Stopwatch.GetTimestamp();
                nuint read;
                unsafe
                {
                    read = _ctx.SetState((byte*)_buffers[b], (nuint)size, scratch);
                }

                long t2 = Stopwatch.GetTimestamp();
                set += t2 - t1;
                _free[b].Release();
                if (read != (nuint)size)
                {
                    warn($"TierKV: llama.cpp read {read} of {size} state bytes of chunks {done}..{done + n - 1}; the prompt is recomputed from token {done * tpc}.");
                    break;
                }

                _ctx.MemorySequenceCopy(scratch, seq, done * tpc, (done + n) * tpc);
                share += Stopwatch.GetTimestamp() - t2;
                if (!Holds(seq, (done + n) * tpc))
                {
                    warn($"TierKV: after chunks {done}..{done + n - 1} sequence {seq.Value} does not hold exactly positions 0..{((done + n) * tpc) - 1}; the prompt is recomputed.");
                    _ctx.MemorySequenceRemove(seq, -1, -1);
                    done = 0;
                    break;
                }

                done += n;
            }
        }
        finally
        {
            Join(worker);
            long t3 = Stopwatch.GetTimestamp();
            _ctx.MemorySequenceRemove(scratch, -1, -1);
            share += Stopwatch.GetTimestamp() - t3;
        }

        phases = new RestorePhases(0, Seconds(assemble), Seconds(set)) { ShareSeconds = Seconds(share) };
        return done;
    }

    /// <summary>Whether <paramref name="seq"/> holds positions 0..<paramref name="tokens"/>-1 (llama.cpp keeps a sequence's positions sorted: O(1)).</summary>
    private bool Holds(LLamaSeqId seq, int tokens) =>
        _ctx.MemorySequenceMinPosition(seq).Value == 0 && _ctx.MemorySequenceMaxPosition(seq).Value == tokens - 1;

    public void Dispose()
    {
        FreeBuffers();
        foreach (var s in _ready.Concat(_free))
        {
            s.Dispose();
        }
    }

    /// <summary>The worker: every group into the buffer llama.cpp is not reading. Returns its busy time in ticks.</summary>
    private long AssembleAll(SequenceStateCodec codec, LLamaSeqId scratch, nint[] chunks, int count, int group, bool vTransposed)
    {
        long busy = 0;
        try
        {
            for (int first = 0, g = 0; first < count; first += group, g++)
            {
                int b = g % 2;
                _free[b].Wait();
                if (_stop)
                {
                    break;
                }

                long t = Stopwatch.GetTimestamp();
                AssembleGroup(codec, scratch, chunks, first, Math.Min(group, count - first), b, vTransposed);
                busy += Stopwatch.GetTimestamp() - t;
                _ready[b].Release();
            }
        }
        catch (Exception e)
        {
            _error = e;
            _stop = true;
            _ready[0].Release();
            _ready[1].Release();
        }

        return busy;
    }

    private unsafe void AssembleGroup(SequenceStateCodec codec, LLamaSeqId scratch, nint[] chunks, int first, int n, int buffer, bool vTransposed)
    {
        long size = codec.BlobBytes(n * codec.Layout.TokensPerChunk);
        codec.AssembleAt(chunks.AsSpan(first, n), first, new Span<byte>((void*)_buffers[buffer], checked((int)size)), scratch.Value, vTransposed);
    }

    /// <summary>Stops and awaits the worker (it reads the chunks, which the caller frees next), then resets the handshake.</summary>
    private void Join(Task? worker)
    {
        if (worker is null)
        {
            return;
        }

        _stop = true;
        _free[0].Release();
        _free[1].Release();
        worker.GetAwaiter().GetResult();
        for (int b = 0; b < 2; b++)
        {
            while (_ready[b].Wait(0))
            {
            }

            while (_free[b].Wait(0))
            {
            }

            _free[b].Release();
        }

        if (_error is { } e)
        {
            ExceptionDispatchInfo.Throw(e);
        }
    }

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    /// <summary>Two group buffers, kept between restores so that they stay mapped and cached.</summary>
    private unsafe void EnsureBuffers(long size)
    {
        if (size <= _bufferBytes)
        {
            return;
        }

        FreeBuffers();
        for (int b = 0; b < 2; b++)
        {
            _buffers[b] = (nint)NativeMemory.AlignedAlloc((nuint)size, 4096);
            new Span<byte>((void*)_buffers[b], checked((int)size)).Clear();
        }

        _bufferBytes = size;
    }

    private unsafe void FreeBuffers()
    {
        for (int b = 0; b < 2; b++)
        {
            if (_buffers[b] != 0)
            {
                NativeMemory.AlignedFree((void*)_buffers[b]);
                _buffers[b] = 0;
            }
        }

        _bufferBytes = 0;
    }
}
