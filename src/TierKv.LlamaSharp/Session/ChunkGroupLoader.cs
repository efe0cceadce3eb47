using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Native;
using TierKv.LlamaSharp.State;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// Restores chunks into a sequence group by group through a scratch sequence: a chunk stored in the context's V
/// orientation is itself a state of its cells and is handed over where it lies; other groups' state blobs are
/// assembled into a small buffer (so it is still in cache when llama.cpp reads it). Each is read by
/// <c>llama_state_seq_set_data</c> into the scratch sequence (which llama.cpp empties first, so the target is never touched by a read), and shared with
/// the target by <c>llama_memory_seq_cp</c> (in a unified KV cache no data moves). Not thread-safe, like the context.
/// (Assembling the next group on a worker thread while llama.cpp read the current one measured slower on the 2-core
/// development machine, and one run of it under heavy load restored a wrong position that could not be reproduced, so
/// it was taken out: docs/llamacpp.md.)
/// </summary>
internal sealed class ChunkGroupLoader : IDisposable
{
    private readonly SafeLLamaContextHandle _ctx;
    private nint _buffer;
    private long _bufferBytes;

    public ChunkGroupLoader(SafeLLamaContextHandle context)
    {
        _ctx = context;
    }

    /// <summary>The fewest tokens a part of a chunk has.</summary>
    public const int MinPartTokens = 16;

    /// <summary>
    /// Tokens per group: <paramref name="groupChunks"/> chunks, or, with groups of one chunk whose KV is larger than
    /// <paramref name="groupBytes"/>, equal parts of it (halving down to <see cref="MinPartTokens"/> tokens).
    /// </summary>
    public static int GroupTokens(SequenceStateCodec codec, int groupChunks, long groupBytes)
    {
        int tokens = groupChunks * codec.Layout.TokensPerChunk;
        long tokenBytes = 2L * codec.Layout.Layers * codec.RowBytes;
        while (groupChunks == 1 && tokens > MinPartTokens && tokens % 2 == 0 && tokens * tokenBytes > groupBytes)
        {
            tokens /= 2;
        }

        return tokens;
    }

    /// <summary>
    /// Puts <paramref name="count"/> chunks (chunk i at positions from i × tokens per chunk) into the empty sequence
    /// <paramref name="seq"/> through the empty sequence <paramref name="scratch"/>, which is empty again afterwards,
    /// <paramref name="groupTokens"/> tokens at a time (<see cref="GroupTokens"/>).
    /// Returns the chunks restored: all, or those before the group llama.cpp refused (reported to <paramref name="warn"/>).
    /// </summary>
    public int Load(SequenceStateCodec codec, LLamaSeqId seq, LLamaSeqId scratch, nint[] chunks, int count, int groupTokens, bool vTransposed, Action<string> warn, out RestorePhases phases)
    {
        int tpc = codec.Layout.TokensPerChunk;
        int total = count * tpc;
        int group = Math.Min(groupTokens, total);
        EnsureBuffers(codec.BlobBytes(group));
        long assemble = 0, set = 0, share = 0;
        int done = 0; // tokens
        try
        {
            while (done < total)
            {
                // A chunk is the state of its own cells: one stored in this context's V orientation goes to llama.cpp
                // where it lies (no copy by TierKV); others are assembled, group by group, into the group buffer.
                int n;
                nint state;
                if (done % tpc == 0 && codec.ChunkVTransposed(chunks[done / tpc]) == vTransposed)
                {
                    n = tpc;
                    state = chunks[done / tpc];
                }
                else
                {
                    n = Math.Min(group, total - done);
                    long t = Stopwatch.GetTimestamp();
                    AssembleGroup(codec, scratch, chunks, done, n, vTransposed);
                    assemble += Stopwatch.GetTimestamp() - t;
                    state = _buffer;
                }

                long size = codec.BlobBytes(n);
                long t1 = Stopwatch.GetTimestamp();
                nuint read;
                unsafe
                {
                    read = _ctx.SetState((byte*)state, (nuint)size, scratch);
                }

                long t2 = Stopwatch.GetTimestamp();
                set += t2 - t1;
                if (read != (nuint)size)
                {
                    warn($"TierKV: llama.cpp read {read} of {size} state bytes of tokens {done}..{done + n - 1}; the prompt is recomputed from token {done / tpc * tpc}.");
                    break;
                }

                _ctx.MemorySequenceCopy(scratch, seq, done, done + n);
                share += Stopwatch.GetTimestamp() - t2;
                if (!Holds(seq, done + n))
                {
                    warn($"TierKV: after tokens {done}..{done + n - 1} sequence {seq.Value} does not hold exactly positions 0..{done + n - 1}; the prompt is recomputed.");
                    _ctx.MemorySequenceRemove(seq, -1, -1);
                    done = 0;
                    break;
                }

                done += n;
            }
        }
        finally
        {
            long t3 = Stopwatch.GetTimestamp();
            _ctx.MemorySequenceRemove(scratch, -1, -1);
            if (done % tpc != 0)
            {
                // A part of a chunk was refused: the target keeps whole chunks only.
                _ctx.MemorySequenceRemove(seq, done / tpc * tpc, -1);
            }

            share += Stopwatch.GetTimestamp() - t3;
        }

        phases = new RestorePhases(0, Seconds(assemble), Seconds(set)) { ShareSeconds = Seconds(share) };
        return done / tpc;
    }

    /// <summary>Whether <paramref name="seq"/> holds positions 0..<paramref name="tokens"/>-1 (llama.cpp keeps a sequence's positions sorted: O(1)).</summary>
    private bool Holds(LLamaSeqId seq, int tokens) =>
        _ctx.MemorySequenceMinPosition(seq).Value == 0 && _ctx.MemorySequenceMaxPosition(seq).Value == tokens - 1;

    public void Dispose()
    {
        FreeBuffers();
    }

    /// <summary>The state of tokens <paramref name="first"/>..+<paramref name="n"/> (positions as in the sequence) into the group buffer.</summary>
    private unsafe void AssembleGroup(SequenceStateCodec codec, LLamaSeqId scratch, nint[] chunks, int first, int n, bool vTransposed)
    {
        int tpc = codec.Layout.TokensPerChunk;
        int c0 = first / tpc, c1 = (first + n + tpc - 1) / tpc;
        long size = codec.BlobBytes(n);
        codec.AssembleTokens(chunks.AsSpan(c0, c1 - c0), first, n, new Span<byte>((void*)_buffer, checked((int)size)), scratch.Value, vTransposed);
    }

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    /// <summary>The group buffer, kept between restores so that it stays mapped and cached.</summary>
    private unsafe void EnsureBuffers(long size)
    {
        if (size <= _bufferBytes)
        {
            return;
        }

        FreeBuffers();
        _buffer = (nint)NativeMemory.AlignedAlloc((nuint)size, 4096);
        new Span<byte>((void*)_buffer, checked((int)size)).Clear();

        _bufferBytes = size;
    }

    private unsafe void FreeBuffers()
    {
        if (_buffer != 0)
        {
            NativeMemory.AlignedFree((void*)_buffer);
            _buffer = 0;
        }

        _bufferBytes = 0;
    }
}
