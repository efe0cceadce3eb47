using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Native;
using TierKv.LlamaSharp.State;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// Restores chunks into a sequence group by group through a scratch sequence: each group's state blob is assembled into
/// a small buffer (so it is still in cache when llama.cpp reads it), read by <c>llama_state_seq_set_data</c>
/// into the scratch sequence (which llama.cpp empties first, so the target is never touched by a read), and shared with
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

    /// <summary>Chunks per group (at least 1).</summary>
    public int GroupChunks { get; set; } = 1;

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
        int done = 0;
        try
        {
            for (int g = 0; g < groups; g++)
            {
                int n = Math.Min(group, count - done);
                long t = Stopwatch.GetTimestamp();
                AssembleGroup(codec, scratch, chunks, done, n, vTransposed);
                assemble += Stopwatch.GetTimestamp() - t;

                long size = codec.BlobBytes(n * tpc);
                long t1 = Stopwatch.GetTimestamp();
                nuint read;
                unsafe
                {
                    read = _ctx.SetState((byte*)_buffer, (nuint)size, scratch);
                }

                long t2 = Stopwatch.GetTimestamp();
                set += t2 - t1;
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
    }

    private unsafe void AssembleGroup(SequenceStateCodec codec, LLamaSeqId scratch, nint[] chunks, int first, int n, bool vTransposed)
    {
        long size = codec.BlobBytes(n * codec.Layout.TokensPerChunk);
        codec.AssembleAt(chunks.AsSpan(first, n), first, new Span<byte>((void*)_buffer, checked((int)size)), scratch.Value, vTransposed);
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
