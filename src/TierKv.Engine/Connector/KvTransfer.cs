using System.Diagnostics;
using System.Runtime.InteropServices;
using TierKv.Engine.Cache;
using TierKv.Engine.Model;
using TierKv.Tiers;

namespace TierKv.Engine.Connector;

/// <summary>
/// One request's KV movement between TierKV and a sequence's pages, and the forward pass's per-layer hooks.
/// Loads: chunks held by the DRAM tier are pinned and copied from in place; chunks on slower tiers are read
/// concurrently into staging first; then layer 0 of every chunk is copied into the pages and signalled, then layer 1,
/// so the forward pass computes layer L while layer L+1 is copied. Saves: each layer's part of the new chunks is
/// copied out on a background task as soon as the forward pass reports the layer done, and the chunks are stored when
/// every layer is in.
/// </summary>
public sealed class KvTransfer : IKvLayerHooks, IDisposable
{
    private readonly KvConnector _connector;
    private readonly PrefixMatch _match;
    private readonly KvSequence _sequence;
    private readonly int _requested;
    private readonly ManualResetEventSlim[] _layerLoaded;
    private readonly TaskCompletionSource<int> _reads = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TierReading> _readings = [];
    private readonly Dictionary<string, int> _servedTokens = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _saveCancel = new();
    private SemaphoreSlim? _layersSaved;
    private Task<int>? _saver;
    private Task? _loader;
    private int _saveFirst;
    private int _saveCount;

    internal KvTransfer(KvConnector connector, PrefixMatch match, KvSequence sequence, int chunks)
    {
        _connector = connector;
        _match = match;
        _sequence = sequence;
        _requested = chunks;
        _layerLoaded = new ManualResetEventSlim[connector.Layout.Layers];
        for (int l = 0; l < _layerLoaded.Length; l++)
        {
            _layerLoaded[l] = new ManualResetEventSlim(false);
        }
    }

    /// <summary>Tokens loaded (valid once <see cref="WaitForReads"/> returned).</summary>
    public int LoadedTokens { get; private set; }

    /// <summary>Tokens served per tier name.</summary>
    public IReadOnlyDictionary<string, int> ServedTokens => _servedTokens;

    /// <summary>Measured movements (for the planner).</summary>
    public IReadOnlyList<TierReading> Readings => _readings;

    /// <summary>Seconds from start until the last layer was in the pages.</summary>
    public double LoadSeconds { get; private set; }

    /// <summary>Chunks this transfer stores once its saves complete.</summary>
    public int SaveChunks => _saveCount;

    internal void Start()
    {
        if (_requested == 0)
        {
            CompleteEmpty();
            return;
        }

        _sequence.EnsureCapacity(_requested * _connector.Layout.TokensPerChunk);
        _loader = Task.Run(Load);
    }

    private void CompleteEmpty()
    {
        LoadedTokens = 0;
        _reads.TrySetResult(0);
        foreach (var e in _layerLoaded)
        {
            e.Set();
        }
    }

    /// <summary>Blocks until the chunk reads finished; returns the tokens that will arrive in the pages.</summary>
    public int WaitForReads() => _reads.Task.GetAwaiter().GetResult();

    /// <inheritdoc />
    public void WaitForLayer(int layer) => _layerLoaded[layer].Wait();

    /// <summary>
    /// Registers the chunks to save: full chunks of the request from the first one past the loaded prefix that no
    /// tier holds, through the last full chunk of the prompt. Call after <see cref="WaitForReads"/>, before the
    /// forward pass.
    /// </summary>
    public void PlanSaves()
    {
        var layout = _connector.Layout;
        var keys = _match.KeyArray;
        int first = LoadedTokens / layout.TokensPerChunk;
        while (first < keys.Length && HeldAnywhere(keys[first]))
        {
            first++;
        }

        _saveFirst = first;
        _saveCount = keys.Length - first;
        if (_saveCount <= 0)
        {
            _saveCount = 0;
            return;
        }

        _layersSaved = new SemaphoreSlim(0, layout.Layers);
        _saver = Task.Run(Save);
    }

    private bool HeldAnywhere(in Keys.ChunkKey key)
    {
        foreach (var t in _connector.Store.Tiers)
        {
            if (t.HasLocalIndex && t.Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public void SaveLayer(int layer) => _layersSaved?.Release();

    /// <summary>Abandons the pending saves (the forward pass failed); nothing partial is stored.</summary>
    public void CancelSaves() => _saveCancel.Cancel();

    /// <summary>Waits until the saved chunks are stored; returns how many the store holds.</summary>
    public Task<int> WaitForSavesAsync() => _saver ?? Task.FromResult(0);

    private async Task<int> Save()
    {
        var layout = _connector.Layout;
        int tpc = layout.TokensPerChunk;
        int layerBytes = layout.LayerBytesPerChunk;
        int count = (int)System.Math.Min(_saveCount, int.MaxValue / layout.ChunkBytes);
        var payload = GC.AllocateUninitializedArray<byte>(count * layout.ChunkBytes);
        try
        {
            for (int l = 0; l < layout.Layers; l++)
            {
                await _layersSaved!.WaitAsync(_saveCancel.Token).ConfigureAwait(false);
                for (int c = 0; c < count; c++)
                {
                    _sequence.CopyChunkLayerOut((_saveFirst + c) * tpc, tpc, l, payload.AsSpan((c * layout.ChunkBytes) + (l * layerBytes), layerBytes));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The forward pass failed before every layer was written: nothing is stored.
            return 0;
        }
        finally
        {
            _layersSaved!.Dispose();
        }

        _connector.Prioritize(_match.KeyArray.AsSpan(0, _saveFirst + count), _connector.PromptPriority);
        return await _connector.Store.StoreAsync(layout, _match.KeyArray.AsMemory(0, _saveFirst + count), payload, _saveFirst).ConfigureAwait(false);
    }

    private unsafe void Load()
    {
        var layout = _connector.Layout;
        var store = _connector.Store;
        int tpc = layout.TokensPerChunk;
        int cb = layout.ChunkBytes;
        int layerBytes = layout.LayerBytesPerChunk;
        var keys = _match.KeyArray;
        var sources = new nint[_requested];
        var leases = new ChunkLease[_requested];
        var leased = new bool[_requested];
        var servedBy = new string[_requested];
        byte* staging = null;
        int loaded = 0;
        long start = Stopwatch.GetTimestamp();
        try
        {
            var dram = store.Tiers[0] as HostMemoryTier;
            var slow = new List<int>();
            for (int c = 0; c < _requested; c++)
            {
                if (dram is not null && dram.TryAcquire(keys[c], out leases[c]))
                {
                    leased[c] = true;
                    sources[c] = leases[c].Pointer;
                    servedBy[c] = dram.Name;
                }
                else
                {
                    slow.Add(c);
                }
            }

            var ok = new bool[_requested];
            for (int c = 0; c < _requested; c++)
            {
                ok[c] = leased[c];
            }

            if (slow.Count > 0)
            {
                staging = (byte*)NativeMemory.AlignedAlloc((nuint)((long)slow.Count * cb), 4096);
                var slowKeys = new Keys.ChunkKey[slow.Count];
                for (int i = 0; i < slow.Count; i++)
                {
                    slowKeys[i] = keys[slow[i]];
                }

                var kinds = new TierKind[slow.Count];
                long t0 = Stopwatch.GetTimestamp();
                using var mm = new Memory.NativeMemoryManager((nint)staging, slow.Count * cb);
                int got = store.RetrieveAsync(layout, slowKeys, mm.Memory, kinds).AsTask().GetAwaiter().GetResult();
                double secs = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                var bytesByTier = new Dictionary<string, long>(StringComparer.Ordinal);
                for (int i = 0; i < got; i++)
                {
                    int c = slow[i];
                    ok[c] = true;
                    sources[c] = (nint)(staging + ((long)i * cb));
                    string name = TierName(store.Tiers, kinds[i]);
                    servedBy[c] = name;
                    bytesByTier[name] = bytesByTier.GetValueOrDefault(name) + cb;
                }

                foreach (var (name, bytes) in bytesByTier)
                {
                    _readings.Add(new TierReading(name, bytes, secs));
                }
            }

            while (loaded < _requested && ok[loaded])
            {
                loaded++;
            }

            for (int c = 0; c < loaded; c++)
            {
                _servedTokens[servedBy[c]] = _servedTokens.GetValueOrDefault(servedBy[c]) + tpc;
            }

            LoadedTokens = loaded * tpc;
            _reads.TrySetResult(LoadedTokens);

            long s0 = Stopwatch.GetTimestamp();
            for (int l = 0; l < layout.Layers; l++)
            {
                for (int c = 0; c < loaded; c++)
                {
                    _sequence.CopyChunkLayerIn(c * tpc, tpc, l, new ReadOnlySpan<byte>((byte*)sources[c] + ((long)l * layerBytes), layerBytes));
                }

                _layerLoaded[l].Set();
            }

            if (loaded > 0 && dram is not null)
            {
                _readings.Add(new TierReading(dram.Name, (long)loaded * cb, Stopwatch.GetElapsedTime(s0).TotalSeconds));
            }
        }
        catch (Exception ex) when (!_reads.Task.IsCompleted)
        {
            // A tier that fails degrades to a miss: the engine recomputes everything.
            Trace.TraceWarning($"TierKV load failed, recomputing: {ex.Message}");
            LoadedTokens = 0;
            _reads.TrySetResult(0);
        }
        finally
        {
            for (int c = 0; c < _requested; c++)
            {
                if (leased[c])
                {
                    leases[c].Dispose();
                }
            }

            if (staging != null)
            {
                NativeMemory.AlignedFree(staging);
            }

            LoadSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            foreach (var e in _layerLoaded)
            {
                e.Set();
            }
        }
    }

    private static string TierName(IReadOnlyList<IKvTier> tiers, TierKind kind)
    {
        foreach (var t in tiers)
        {
            if (t.Kind == kind)
            {
                return t.Name;
            }
        }

        return kind.ToString().ToLowerInvariant();
    }

    /// <summary>Waits for the load task; disposes the layer events. Saves keep running: await them first.</summary>
    public void Dispose()
    {
        _loader?.GetAwaiter().GetResult();
        foreach (var e in _layerLoaded)
        {
            e.Dispose();
        }
    }
}
