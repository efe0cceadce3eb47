using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Native;

namespace TierKv.LlamaSharp.Session;

/// <summary>Putting fetched chunks into a llama.cpp sequence: one state blob, or chunk groups through a scratch sequence.</summary>
public sealed partial class LlamaKvConnector
{
    private LLamaSeqId? _scratch;
    private ChunkGroupLoader? _groups;
    private int _groupChunks = 1;
    private long _groupBytes = DefaultRestoreGroupBytes;

    /// <summary>
    /// <see cref="RestoreGroupBytes"/> by default: a quarter of the development machine's 32 MiB L3, so that models up to
    /// 32 KiB of KV a token restore whole chunks and wider ones (a Llama-3-8B chunk is 32 MiB) parts whose blob stays in
    /// cache. Smaller parts (512 KiB) measured no faster for 16 and 32 KiB a token (docs/llamacpp.md, "KV width").
    /// </summary>
    public const long DefaultRestoreGroupBytes = 8L << 20;

    /// <summary>
    /// A sequence of the context that restores may use to load chunk by chunk (null, the default: a restore assembles one
    /// state blob as large as the prefix and hands it to <c>llama_state_seq_set_data</c>). llama.cpp empties the sequence
    /// it reads a state into, so each chunk is read into this scratch sequence and then shared with the target
    /// (<c>llama_memory_seq_cp</c>; in a unified KV cache the cells are shared, no data moves). A chunk is the state of its
    /// own cells, so one stored in this context's V orientation is read where it lies, with no copy by TierKV; others are
    /// assembled in groups (<see cref="RestoreGroupChunks"/>, <see cref="RestoreGroupBytes"/>). The context needs a
    /// <c>SeqMax</c> above the id and a unified KV cache (<c>KVUnified</c>), and the application must not use the
    /// sequence: setting it checks all three and throws with the reason.
    /// </summary>
    public LLamaSeqId? ScratchSequence
    {
        get => _scratch;
        set
        {
            if (value is { } s)
            {
                CheckScratch(s);
                _groups ??= new ChunkGroupLoader(_ctx);
            }

            _scratch = value;
        }
    }

    /// <summary>
    /// Chunks per group when restoring through <see cref="ScratchSequence"/> chunks that must be assembled (stored in the
    /// other V orientation; default 1). Chunks read where they lie go one by one.
    /// </summary>
    public int RestoreGroupChunks
    {
        get => _groupChunks;
        set => _groupChunks = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A group has at least one chunk.");
    }

    /// <summary>
    /// With groups of one chunk (<see cref="RestoreGroupChunks"/> = 1), the most KV bytes one assembled group holds
    /// (default <see cref="DefaultRestoreGroupBytes"/>): a wider model's chunk that must be assembled is restored in equal
    /// parts of 128, 64, ... (at least 16) tokens, so that llama.cpp reads each part's blob from the cache TierKV just
    /// wrote it to. Chunks read where they lie are always whole.
    /// </summary>
    public long RestoreGroupBytes
    {
        get => _groupBytes;
        set => _groupBytes = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A group holds at least one byte.");
    }

    /// <summary>Contexts whose KV cache llama.cpp shares between sequences (<c>KVUnified</c>): what <see cref="ScratchSequence"/> needs.</summary>
    public static bool HasUnifiedKvCache(SafeLLamaContextHandle context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.MaxSeq <= 1 || ContextSizePerSequence(context) == context.ContextSize;
    }

    /// <summary>
    /// Puts <paramref name="count"/> of <paramref name="chunks"/> (chunk i at position i × tokens per chunk) into the
    /// empty sequence <paramref name="seq"/>. Returns the chunks restored: all of them, or, when llama.cpp refuses a
    /// state, those before it (none on the one-blob path); the sequence holds exactly the chunks returned.
    /// </summary>
    private int Load(LLamaSeqId seq, nint[] chunks, int count, out RestorePhases phases)
    {
        var codec = Codec!;

        // Every chunk is checked as a state before llama.cpp sees a byte of it; a restore stops before the first one
        // the codec cannot vouch for (the rest is recomputed).
        int valid = codec.CheckChunks(chunks, count, out string why);
        if (valid < count)
        {
            Warn($"TierKV: cached {why}; the prompt is recomputed from token {valid * codec.Layout.TokensPerChunk}.");
            count = valid;
            if (count == 0)
            {
                phases = new RestorePhases(0, 0, 0);
                return 0;
            }
        }

        if (_scratch is not { } scratch)
        {
            return LoadBlob(codec, seq, chunks.AsSpan(0, count), out phases);
        }

        int groupTokens = ChunkGroupLoader.GroupTokens(codec, _groupChunks, _groupBytes);
        return _groups!.Load(codec, seq, scratch, chunks, count, groupTokens, _vTransposed, Warn, out phases);
    }

    private unsafe int LoadBlob(State.SequenceStateCodec codec, LLamaSeqId seq, ReadOnlySpan<nint> chunks, out RestorePhases phases)
    {
        long t0 = Stopwatch.GetTimestamp();
        long size = codec.BlobBytes(chunks.Length * codec.Layout.TokensPerChunk);
        var blob = BlobBuffer(size);
        codec.Assemble(chunks, new Span<byte>((void*)blob, checked((int)size)), (int)seq, _vTransposed, AssembleThreads);
        long tAssembled = Stopwatch.GetTimestamp();
        nuint read = _ctx.SetState((byte*)blob, (nuint)size, seq);
        phases = new RestorePhases(0, Stopwatch.GetElapsedTime(t0, tAssembled).TotalSeconds, Stopwatch.GetElapsedTime(tAssembled).TotalSeconds);
        if (read == (nuint)size)
        {
            return chunks.Length;
        }

        _ctx.MemorySequenceRemove(seq, -1, -1);
        Warn($"TierKV: llama.cpp read {read} of {size} state bytes; the prompt is recomputed.");
        return 0;
    }

    private void CheckScratch(LLamaSeqId s)
    {
        uint max = _ctx.MaxSeq;
        if (s.Value < 0 || (uint)s.Value >= max)
        {
            throw new ArgumentOutOfRangeException(nameof(ScratchSequence), $"Sequence {s.Value} is not one of the context's {max} sequences: create the context with SeqMax of at least {Math.Max(2, s.Value + 1)}.");
        }

        uint? perSeq = ContextSizePerSequence(_ctx);
        if (perSeq is null)
        {
            throw new NotSupportedException("This llama.cpp build does not say whether its KV cache is unified (no llama_n_ctx_seq): restores keep using one state blob.");
        }

        if (perSeq != _ctx.ContextSize)
        {
            throw new ArgumentException($"The context's KV cache is split per sequence ({perSeq} of {_ctx.ContextSize} cells each): a scratch sequence needs a unified KV cache (KVUnified = true), where sharing cells moves no data.", nameof(ScratchSequence));
        }

        if (_ctx.MemorySequenceMaxPosition(s).Value >= 0)
        {
            throw new ArgumentException($"Sequence {s.Value} holds tokens; the scratch sequence must be one the application does not use.", nameof(ScratchSequence));
        }
    }

    /// <summary>
    /// llama.cpp's <c>llama_n_ctx_seq</c> (cells one sequence can use: all of them in a unified KV cache), or null when
    /// it cannot be called. LLamaSharp 0.30 does not bind it, so it is looked up in the llama library LLamaSharp already
    /// loaded (the platform's loader returns the loaded library for its bare name), after checking that this library's
    /// <c>llama_n_ctx</c> agrees with the context.
    /// </summary>
    private static unsafe uint? ContextSizePerSequence(SafeLLamaContextHandle context)
    {
        string name = OperatingSystem.IsWindows() ? "llama.dll" : OperatingSystem.IsMacOS() ? "libllama.dylib" : "libllama.so";
        if (!NativeLibrary.TryLoad(name, out nint lib))
        {
            return null;
        }

        bool added = false;
        try
        {
            if (!NativeLibrary.TryGetExport(lib, "llama_n_ctx_seq", out nint perSeq) || !NativeLibrary.TryGetExport(lib, "llama_n_ctx", out nint nCtx))
            {
                return null;
            }

            context.DangerousAddRef(ref added);
            nint ctx = context.DangerousGetHandle();
            if (((delegate* unmanaged<nint, uint>)nCtx)(ctx) != context.ContextSize)
            {
                return null;
            }

            return ((delegate* unmanaged<nint, uint>)perSeq)(ctx);
        }
        finally
        {
            if (added)
            {
                context.DangerousRelease();
            }

            NativeLibrary.Free(lib);
        }
    }
}
