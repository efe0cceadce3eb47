using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Native;
using TierKv.Engine.Connector;
using TierKv.Engine.Planning;
using TierKv.Keys;
using TierKv.Memory;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.State;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// TierKV under one llama.cpp context: before a prompt is decoded, <see cref="Restore"/> finds its longest cached prefix
/// of whole chunks, lets the <see cref="LoadPlanner"/> decide whether loading beats recomputing, and puts the chunks
/// back with <c>llama_state_seq_set_data</c>; after decoding, <see cref="SaveAsync"/> cuts the sequence's state into
/// chunks and stores the new ones. The state format is learnt once from the context itself
/// (<see cref="SequenceStateCodec"/>); a format the codec cannot vouch for disables the cache with a warning, and every
/// request then recomputes. Not thread-safe, like the llama.cpp context it wraps.
/// </summary>
public sealed partial class LlamaKvConnector : IDisposable
{
    private readonly SafeLLamaContextHandle _ctx;
    private readonly TieredStore _store;
    private readonly TenantSalt _salt;
    private readonly Action<string> _log;
    private readonly LlamaModelFile _model;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private bool _vTransposed;
    private nint _blob;
    private long _blobBytes;

    /// <summary>
    /// Creates the connector and learns the context's state format by decoding one token into <paramref name="probeSeq"/>
    /// (which must be empty; it is emptied again). The store's tiers must hold chunks of <see cref="LayoutOf(LlamaModelFile, GGMLType?)"/> for the
    /// context's KV type.
    /// </summary>
    public LlamaKvConnector(SafeLLamaContextHandle context, LlamaModelFile model, TieredStore store, LLamaSeqId probeSeq, TenantSalt? salt = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(store);
        _ctx = context;
        _model = model;
        _store = store;
        _salt = salt ?? TenantSalt.None;
        _log = log ?? (msg => Console.Error.WriteLine(msg));
        Planner = new LoadPlanner(model.Config);
        (Codec, Disabled) = Probe(probeSeq);
        if (Codec is not null && store.Tiers[0] is HostMemoryTier first && first.SlotBytes < Codec.Layout.ChunkBytes)
        {
            var wanted = Codec.Layout;
            Disabled = $"the store's slots hold {first.SlotBytes} bytes but a chunk of this context's KV ({wanted}) has {wanted.ChunkBytes}: build the store for LayoutOf(model, the context's KV type)";
            Codec = null;
        }

        if (Codec is not null)
        {
            // The state buffer for a full context, mapped now rather than during the first restore.
            uint nCtx = context.ContextSize;
            BlobBuffer(Codec.BlobBytes((int)(nCtx / (uint)Codec.Layout.TokensPerChunk * (uint)Codec.Layout.TokensPerChunk)));
        }

        if (Disabled is not null)
        {
            Warn($"TierKV is off for {model.Path}: {Disabled}; every prompt is recomputed.");
        }
    }

    /// <summary>The codec, or null when the context's KV cannot be carried (see <see cref="Disabled"/>).</summary>
    public SequenceStateCodec? Codec { get; }

    /// <summary>Why the cache is off for this context, or null when it is on.</summary>
    public string? Disabled { get; }

    /// <summary>Whether this context stores V transposed (llama.cpp without flash attention); chunks are the same either way.</summary>
    public bool VTransposed => _vTransposed;

    /// <summary>The chunk layout (null when disabled).</summary>
    public KvLayout? Layout => Codec?.Layout;

    /// <summary>The planner: measured tier bandwidth and this model's measured prefill speed.</summary>
    public LoadPlanner Planner { get; }

    /// <summary>The store.</summary>
    public TieredStore Store => _store;

    /// <summary>
    /// The priority of the conversations' shared prefix (a system prompt): <see cref="SaveAsync"/> gives it to the
    /// chunks wholly inside its first tokens, so eviction keeps them after every chunk of lower priority. Null: none.
    /// </summary>
    public PrefixPriority? PromptPriority { get; set; }

    /// <summary>Restores that failed after planning (damaged or vanished chunks, llama.cpp refusing a state).</summary>
    public int FailedRestores { get; private set; }

    /// <summary>
    /// Threads that assemble a state blob (default 1). More help only on idle cores: right after a decode, llama.cpp's
    /// worker threads still spin on theirs.
    /// </summary>
    public int AssembleThreads { get; set; } = 1;

    /// <summary>Where the last successful restore spent its time.</summary>
    public RestorePhases? LastPhases { get; private set; }

    /// <summary>The layout of <paramref name="model"/>'s KV in <paramref name="elementType"/>: its model id names the weights.</summary>
    public static KvLayout LayoutOf(LlamaModelFile model, KvElementType elementType)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        return SequenceStateCodec.LayoutOf(model.ModelId, c.Layers, c.KvHeads, c.HeadDim, elementType);
    }

    /// <summary>
    /// The layout of <paramref name="model"/>'s KV in llama.cpp's cache type <paramref name="kvType"/> (the context's
    /// <c>TypeK</c>/<c>TypeV</c>; null is llama.cpp's default, f16). f32, f16 and bf16 are element types; q8_0 is blocks
    /// of 32 values in 34 bytes, so its layout counts a token's row of one layer in bytes (one "head" of that many
    /// int8 elements) under a model id that names the cache type: its chunks never match another type's.
    /// </summary>
    public static KvLayout LayoutOf(LlamaModelFile model, GGMLType? kvType)
    {
        ArgumentNullException.ThrowIfNull(model);
        return LayoutOf(model, (int)(kvType ?? GGMLType.GGML_TYPE_F16))
            ?? throw new NotSupportedException($"KV cache type {kvType} is not carried by TierKV's llama.cpp codec (f32, f16, bf16, q8_0).");
    }

    /// <summary>The layout for GGML type id <paramref name="ggmlType"/>, or null when the codec cannot carry it.</summary>
    private static KvLayout? LayoutOf(LlamaModelFile model, int ggmlType)
    {
        if (SequenceStateCodec.ElementTypeOf(ggmlType) is { } element)
        {
            return LayoutOf(model, element);
        }

        if (ggmlType != SequenceStateCodec.Q8_0)
        {
            return null;
        }

        // llama.cpp quantizes each head's row in whole blocks, so it needs head dimensions that are multiples of 32.
        var c = model.Config;
        return c.HeadDim % 32 != 0 ? null : SequenceStateCodec.LayoutOf(model.ModelId + "/kv=q8_0", c.Layers, 1, c.KvHeads * c.HeadDim / 32 * 34, KvElementType.Int8);
    }

    /// <summary>
    /// Empties <paramref name="seq"/> and restores the longest cached prefix of <paramref name="prompt"/> that the
    /// planner says is worth loading (never the whole prompt: at least one token is left to decode). The caller then
    /// decodes <c>prompt[RestoredTokens..]</c> at positions from <c>RestoredTokens</c>.
    /// </summary>
    public LlamaRestore Restore(LLamaSeqId seq, ReadOnlySpan<int> prompt)
    {
        if (seq == _scratch)
        {
            throw new ArgumentException($"Sequence {seq.Value} is the connector's scratch sequence; restore into another one.", nameof(seq));
        }

        _ctx.MemorySequenceRemove(seq, -1, -1);
        var served = new Dictionary<string, int>(StringComparer.Ordinal);
        if (Codec is null)
        {
            return new LlamaRestore(prompt.Length, 0, 0, served, Disabled ?? "off", 0, 0);
        }

        long t0 = Stopwatch.GetTimestamp();
        var layout = Codec.Layout;
        int tpc = layout.TokensPerChunk;
        var keys = PrefixHasher.ComputeKeys(layout, _salt, prompt);
        var tierOf = new int[keys.Length];
        int hit = _store.LocateChunksAsync(layout, keys, tierOf).AsTask().GetAwaiter().GetResult();
        var plan = Planner.Plan(new PrefixMatch(prompt.Length, keys, hit, tierOf, tpc), _store.Tiers, layout.ChunkBytes);
        int load = plan.LoadChunks;
        if (load == 0)
        {
            return new LlamaRestore(prompt.Length, hit * tpc, 0, served, plan.Reason, 0, 0);
        }

        var leases = new ChunkLease[load];
        int leased = 0;
        nint staging = 0;
        var pointers = new nint[load];
        var from = new string[load];
        try
        {
            // DRAM hits are read in place (a lease pins each slot); anything below DRAM goes through the store, which
            // verifies checksums, promotes, and stops at the first damaged or vanished chunk.
            if (_store.Tiers[0] is HostMemoryTier dram)
            {
                while (leased < load && tierOf[leased] == 0 && dram.TryAcquire(keys[leased], out leases[leased]))
                {
                    pointers[leased] = leases[leased].Pointer;
                    from[leased] = dram.Name;
                    leased++;
                }
            }

            if (leased < load)
            {
                int rest = load - leased;
                int stagingBytes = checked(rest * layout.ChunkBytes);
                unsafe
                {
                    staging = (nint)NativeMemory.AlignedAlloc((nuint)stagingBytes, 4096);
                }

                var kinds = new TierKind[rest];
                using var memory = new NativeMemoryManager(staging, stagingBytes);
                int got = _store.RetrieveAsync(layout, keys.AsMemory(leased, rest), memory.Memory, kinds).AsTask().GetAwaiter().GetResult();
                for (int i = 0; i < got; i++)
                {
                    pointers[leased + i] = staging + (i * layout.ChunkBytes);
                    from[leased + i] = TierName(kinds[i]);
                }

                if (got < rest)
                {
                    FailedRestores++;
                    Warn($"TierKV: chunk {leased + got} of a {hit}-chunk hit could not be read (damaged or evicted); the rest of the prompt is recomputed.");
                    load = leased + got;
                    if (load == 0)
                    {
                        return new LlamaRestore(prompt.Length, hit * tpc, 0, served, "cached chunks could not be read: recompute", Stopwatch.GetElapsedTime(t0).TotalSeconds, 0);
                    }
                }
            }

            long tFetched = Stopwatch.GetTimestamp();
            int chunks = Load(seq, pointers, load, out var phases);
            long tSet = Stopwatch.GetTimestamp();
            LastPhases = phases with { FetchSeconds = Stopwatch.GetElapsedTime(t0, tFetched).TotalSeconds };
            double seconds = Stopwatch.GetElapsedTime(t0, tSet).TotalSeconds;
            long kvBytes = (long)chunks * layout.KvBytesPerChunk;
            if (chunks < load)
            {
                FailedRestores++;
                if (chunks == 0)
                {
                    return new LlamaRestore(prompt.Length, hit * tpc, 0, served, "llama.cpp refused the state: recompute", seconds, 0);
                }
            }

            for (int i = 0; i < chunks; i++)
            {
                served[from[i]] = served.GetValueOrDefault(from[i]) + tpc;
            }

            if (chunks <= leased)
            {
                Planner.ObserveTier(_store.Tiers[0].Name, (long)chunks * layout.ChunkBytes, seconds);
            }

            return new LlamaRestore(prompt.Length, hit * tpc, chunks * tpc, served, plan.Reason, seconds, kvBytes);
        }
        finally
        {
            for (int i = 0; i < leased; i++)
            {
                leases[i].Dispose();
            }

            if (staging != 0)
            {
                unsafe
                {
                    NativeMemory.AlignedFree((void*)staging);
                }
            }

        }
    }

    /// <summary>
    /// Stores the chunks of <paramref name="seq"/> that the store does not hold yet. <paramref name="tokens"/> are the
    /// sequence's tokens from position 0 (at least as many as it has cells). The state is copied out synchronously; the
    /// returned task completes when the store took the chunks. Returns the number of chunks newly handed to the store.
    /// </summary>
    public Task<int> SaveAsync(LLamaSeqId seq, ReadOnlySpan<int> tokens)
    {
        if (Codec is null)
        {
            return Task.FromResult(0);
        }

        var layout = Codec.Layout;
        var keys = PrefixHasher.ComputeKeys(layout, _salt, tokens);
        var where = new int[keys.Length];
        int first = _store.LocateChunks(keys, where);
        if (first == keys.Length)
        {
            return Task.FromResult(0);
        }

        var blob = GetState(seq);
        if (!Codec.TryParse(blob, out var state, out string reason))
        {
            Warn($"TierKV: not storing sequence {(int)seq}: {reason}.");
            return Task.FromResult(0);
        }

        int chunks = System.Math.Min(state!.Tokens, tokens.Length) / layout.TokensPerChunk;
        if (state.Tokens > tokens.Length)
        {
            Warn($"TierKV: sequence {(int)seq} holds {state.Tokens} cells but only {tokens.Length} tokens were given; nothing stored.");
            return Task.FromResult(0);
        }

        if (chunks <= first)
        {
            return Task.FromResult(0);
        }

        _vTransposed = state.VTransposed;
        int count = chunks - first;
        var payload = new byte[(long)count * layout.ChunkBytes];
        Codec.Cut(blob, state, first, count, payload);
        return StoreAsync(layout, keys, payload, first, count);
    }

    private async Task<int> StoreAsync(KvLayout layout, ChunkKey[] keys, byte[] payload, int first, int count)
    {
        if (PromptPriority is { } priority)
        {
            _store.SetPriority(layout, keys.AsSpan(0, first + count), priority);
        }

        await _store.StoreAsync(layout, keys.AsMemory(0, first + count), payload, first).ConfigureAwait(false);
        return count;
    }

    private (SequenceStateCodec? Codec, string? Disabled) Probe(LLamaSeqId seq)
    {
        // One token decoded into an empty sequence shows the state's types, row sizes and V orientation.
        _ctx.MemorySequenceRemove(seq, -1, -1);
        using (var batch = new LLamaBatchDisposable())
        {
            batch.Batch.Add(0, 0, seq, true);
            var r = _ctx.Decode(batch.Batch);
            if (r != DecodeResult.Ok)
            {
                return (null, $"the probe decode failed ({r})");
            }
        }

        var span = GetState(seq);
        _ctx.MemorySequenceRemove(seq, -1, -1);
        if (span.Length < 16 + 12 + 8 + 12)
        {
            return (null, $"the state of one token has only {span.Length} bytes");
        }

        // Header (16) + one cell (12) + v_trans, n_layer (8), then layer 0's K type.
        int kType = BitConverter.ToInt32(span[36..]);
        if (LayoutOf(_model, kType) is not { } layout)
        {
            return (null, $"KV type {kType} (GGML id) is not one the codec carries (f32, f16, bf16, q8_0)");
        }

        var codec = new SequenceStateCodec(layout, kType);
        if (!codec.TryParse(span, out var state, out string reason))
        {
            return (null, reason);
        }

        _vTransposed = state!.VTransposed;
        return (codec, null);
    }

    /// <summary>Frees the state buffers. The context and the store belong to the caller.</summary>
    public void Dispose()
    {
        if (_blob != 0)
        {
            unsafe
            {
                NativeMemory.AlignedFree((void*)_blob);
            }

            _blob = 0;
            _blobBytes = 0;
        }

        _groups?.Dispose();
        _groups = null;
    }

    /// <summary>
    /// The state buffer, kept between restores (grown, never shrunk) so a restore writes to memory that is already
    /// mapped: a fresh 10 MiB array costs more in page faults than the copy itself.
    /// </summary>
    private unsafe nint BlobBuffer(long size)
    {
        if (size > _blobBytes)
        {
            if (_blob != 0)
            {
                NativeMemory.AlignedFree((void*)_blob);
            }

            long grown = System.Math.Max(size, _blobBytes * 2);
            _blob = (nint)NativeMemory.AlignedAlloc((nuint)grown, 4096);
            _blobBytes = grown;
            new Span<byte>((void*)_blob, checked((int)grown)).Clear();
        }

        return _blob;
    }

    /// <summary>
    /// Copies <paramref name="seq"/>'s state into the state buffer that restores use too, so a save grows it ahead of
    /// the restores of that sequence's prefixes.
    /// </summary>
    private unsafe ReadOnlySpan<byte> GetState(LLamaSeqId seq)
    {
        nuint n = _ctx.GetStateSize(seq);
        if (n > int.MaxValue)
        {
            throw new InvalidOperationException($"Sequence {(int)seq} has a state of {n} bytes; TierKV's codec handles states up to 2 GiB.");
        }

        var blob = BlobBuffer((long)n);
        int size = (int)_ctx.GetState((byte*)blob, n, seq);
        return new ReadOnlySpan<byte>((void*)blob, size);
    }

    private string TierName(TierKind kind)
    {
        foreach (var t in _store.Tiers)
        {
            if (t.Kind == kind)
            {
                return t.Name;
            }
        }

        return kind.ToString();
    }

    private void Warn(string message)
    {
        if (_warned.Add(message))
        {
            _log(message);
        }
    }

    /// <summary>A one-entry batch.</summary>
    private sealed class LLamaBatchDisposable : IDisposable
    {
        public LLamaBatch Batch { get; } = new();

        public void Dispose() => Batch.Clear();
    }
}
