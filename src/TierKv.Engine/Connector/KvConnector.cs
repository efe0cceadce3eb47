using TierKv.Engine.Cache;
using TierKv.Keys;
using TierKv.Store;
using TierKv.Tracing;

namespace TierKv.Engine.Connector;

/// <summary>
/// The engine's connector to TierKV, in the shape vLLM's KV connector made standard. Scheduler side:
/// <see cref="Match"/> answers how many leading tokens TierKV can supply. Worker side: <see cref="StartLoad"/>
/// begins loading a prefix into a sequence's pages and returns a <see cref="KvTransfer"/> whose
/// <see cref="KvTransfer.WaitForLayer"/> the forward pass calls before each layer's attention (layer L+1 is still
/// arriving while layer L computes), and whose <see cref="KvTransfer.SaveLayer"/> copies each layer's new chunks out
/// on a background task (<see cref="KvTransfer.WaitForSavesAsync"/> waits for them).
/// Chunk payloads are layer-major: for each layer, the chunk's 16 page blocks in the engine's page format.
/// </summary>
public sealed class KvConnector
{
    /// <summary>Creates a connector over <paramref name="store"/> for <paramref name="layout"/>.</summary>
    public KvConnector(TieredStore store, KvLayout layout, TenantSalt? salt = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.TokensPerChunk % KvPagePool.PageTokens != 0)
        {
            throw new ArgumentException($"Chunks of {layout.TokensPerChunk} tokens are not whole pages of {KvPagePool.PageTokens}.", nameof(layout));
        }

        Store = store;
        Layout = layout;
        Salt = salt ?? TenantSalt.None;
    }

    /// <summary>The tiered store.</summary>
    public TieredStore Store { get; }

    /// <summary>The model's KV layout.</summary>
    public KvLayout Layout { get; }

    /// <summary>The tenant salt entering every key.</summary>
    public TenantSalt Salt { get; }

    /// <summary>Where each scheduler-side match is recorded (TierKV's access trace), when set.</summary>
    public AccessTraceWriter? Trace { get; init; }

    /// <summary>
    /// The priority of every request's shared prefix (a system prompt): its chunks take it when the connector stores
    /// them, so eviction keeps them after every chunk of lower priority. Null: stored at normal priority.
    /// </summary>
    public PrefixPriority? PromptPriority { get; init; }

    /// <summary>Tenant number written to the access trace.</summary>
    public int TraceTenant { get; init; }

    /// <summary>Scheduler side: hashes the request's full chunks and finds the leading chunks any local tier holds.</summary>
    public PrefixMatch Match(ReadOnlySpan<int> tokens)
    {
        var keys = PrefixHasher.ComputeKeys(Layout, Salt, tokens);
        Trace?.Record(TraceTenant, tokens.Length, keys);
        var tiers = new int[keys.Length];
        int hit = Store.LocateChunks(keys, tiers);
        return new PrefixMatch(tokens.Length, keys, hit, tiers[..hit], Layout.TokensPerChunk);
    }

    /// <summary>
    /// Worker side: starts loading the first <paramref name="chunks"/> hit chunks of <paramref name="match"/> into
    /// <paramref name="sequence"/> (which must be empty). <see cref="KvTransfer.WaitForReads"/> then tells how many
    /// tokens actually arrived (a chunk evicted or damaged meanwhile ends the prefix there).
    /// </summary>
    public KvTransfer StartLoad(PrefixMatch match, KvSequence sequence, int chunks)
    {
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Length != 0)
        {
            throw new ArgumentException("Loads go into an empty sequence.", nameof(sequence));
        }

        if (chunks < 0 || chunks > match.HitChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(chunks), chunks, $"The match has {match.HitChunks} hit chunks.");
        }

        var transfer = new KvTransfer(this, match, sequence, chunks);
        transfer.Start();
        return transfer;
    }

    /// <summary>
    /// Stores every full chunk of <paramref name="tokens"/> whose KV <paramref name="sequence"/> holds and the store
    /// does not, e.g. after decode extended a conversation. Returns the chunks stored.
    /// </summary>
    public Task<int> SaveSequenceAsync(KvSequence sequence, ReadOnlyMemory<int> tokens, CancellationToken cancellationToken = default) =>
        SaveSequenceAsync(sequence, tokens, PromptPriority, cancellationToken);

    /// <summary>
    /// <see cref="SaveSequenceAsync(KvSequence, ReadOnlyMemory{int}, CancellationToken)"/> with the chunks of
    /// <paramref name="priority"/>'s prefix (a system prompt) at its priority, also those already held.
    /// </summary>
    public async Task<int> SaveSequenceAsync(KvSequence sequence, ReadOnlyMemory<int> tokens, PrefixPriority? priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int valid = System.Math.Min(sequence.Length, tokens.Length);
        var keys = PrefixHasher.ComputeKeys(Layout, Salt, tokens.Span[..valid]);
        Prioritize(keys, priority);
        var missing = new List<int>();
        var where = new int[keys.Length];
        int held = Store.LocateChunks(keys, where);
        for (int c = held; c < keys.Length; c++)
        {
            missing.Add(c);
        }

        if (missing.Count == 0)
        {
            return 0;
        }

        int first = missing[0];
        int count = keys.Length - first;
        var payload = new byte[(long)count * Layout.ChunkBytes];
        int layerBytes = Layout.LayerBytesPerChunk;
        for (int c = 0; c < count; c++)
        {
            for (int l = 0; l < Layout.Layers; l++)
            {
                sequence.CopyChunkLayerOut((first + c) * Layout.TokensPerChunk, Layout.TokensPerChunk, l, payload.AsSpan((c * Layout.ChunkBytes) + (l * layerBytes), layerBytes));
            }
        }

        return await Store.StoreAsync(Layout, keys, payload, first, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives the prefix's chunks its priority before they are stored (a transfer's saves call it too).</summary>
    internal void Prioritize(ReadOnlySpan<ChunkKey> keys, PrefixPriority? priority)
    {
        if (priority is { } p)
        {
            Store.SetPriority(Layout, keys, p);
        }
    }
}
