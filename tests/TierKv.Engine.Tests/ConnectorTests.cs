using TierKv.Engine.Cache;
using TierKv.Engine.Connector;
using TierKv.Engine.Model;
using TierKv.Engine.Planning;
using TierKv.Engine.Serving;
using TierKv.Keys;
using TierKv.Nvme;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Engine.Tests;

public sealed class ConnectorTests : IDisposable
{
    private readonly ModelConfig _config = TestModels.Micro();
    private readonly Transformer _model;
    private readonly KvPagePool _pool;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tierkv-engine-tests-" + Guid.NewGuid().ToString("N"));

    public ConnectorTests()
    {
        _model = TestModels.Build(_config);
        _pool = _model.CreatePagePool(4096);
    }

    public void Dispose()
    {
        _pool.Dispose();
        _model.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private KvLayout Layout => _model.Layout;

    private HostMemoryTier Dram(int chunks = 64, string name = "dram") =>
        new(new HostMemoryTierOptions { CapacityBytes = (long)chunks * HostMemoryTierOptions.PageSize * ((Layout.ChunkBytes + 4095) / 4096), SlotBytes = Layout.ChunkBytes, Name = name });

    private NvmeTier Ssd() => new(new NvmeTierOptions { Directory = _dir, CapacityBytes = 64L * Layout.ChunkBytes, SlotBytes = Layout.ChunkBytes, Log = _ => { } });

    /// <summary>A planner that believes prefill is very slow, so every hit is loaded whatever the machine's load.</summary>
    private LoadPlanner LoadingPlanner()
    {
        var planner = new LoadPlanner(_config);
        planner.ObservePrefill(1024, 0, 1000.0);
        planner.LearnPrefillSpeed = false;
        return planner;
    }

    private float[] Recompute(int[] tokens)
    {
        var logits = new float[_config.VocabSize];
        using var seq = new KvSequence(_pool);
        _model.Forward(seq, tokens, logits);
        return logits;
    }

    private (float[] Logits, PrefillResult Result) Cached(CachedEngine engine, int[] tokens)
    {
        var logits = new float[_config.VocabSize];
        using var seq = new KvSequence(_pool);
        var r = engine.Prefill(seq, tokens, logits);
        r.Saves.GetAwaiter().GetResult();
        return (logits, r);
    }

    [Fact]
    public void Dram_hit_gives_logits_bit_identical_to_recompute()
    {
        using var store = new TieredStore([Dram()]);
        var engine = new CachedEngine(_model, new KvConnector(store, Layout), LoadingPlanner());
        var tokens = TestModels.Tokens(700, 21);

        var (first, miss) = Cached(engine, tokens);
        Assert.Equal(0, miss.LoadedTokens);
        Assert.Equal(2, store.Tiers[0].ChunkCount);

        var (second, hit) = Cached(engine, tokens);
        Assert.Equal(512, hit.HitTokens);
        Assert.Equal(512, hit.LoadedTokens);
        Assert.Equal(512, hit.ServedTokens["dram"]);
        var expected = Recompute(tokens);
        Assert.Equal(expected, first);
        Assert.Equal(expected, second);
    }

    [Fact]
    public void Partial_hits_load_the_shared_chunks_and_match_recompute()
    {
        using var store = new TieredStore([Dram()]);
        var engine = new CachedEngine(_model, new KvConnector(store, Layout), LoadingPlanner());
        var a = TestModels.Tokens(600, 22);
        Cached(engine, a);

        // Shares 300 tokens: one full chunk in common.
        int[] b = [.. a.AsSpan(0, 300), .. TestModels.Tokens(200, 23)];
        var (lb, rb) = Cached(engine, b);
        Assert.Equal(256, rb.LoadedTokens);
        Assert.Equal(Recompute(b), lb);

        // Extends a: both of its chunks load.
        int[] c = [.. a, .. TestModels.Tokens(100, 24)];
        var (lc, rc) = Cached(engine, c);
        Assert.Equal(512, rc.LoadedTokens);
        Assert.Equal(Recompute(c), lc);
    }

    [Fact]
    public async Task Decode_after_a_cached_prefix_saves_the_grown_history_for_the_next_turn()
    {
        using var store = new TieredStore([Dram()]);
        var connector = new KvConnector(store, Layout);
        var engine = new CachedEngine(_model, connector, LoadingPlanner());
        var prompt = TestModels.Tokens(500, 25);
        var logits = new float[_config.VocabSize];
        List<int> history = [.. prompt];
        using (var seq = new KvSequence(_pool))
        {
            await engine.Prefill(seq, prompt, logits).Saves;
            var reply = engine.Decode(seq, logits, 20, new TokenSampler());
            history.AddRange(reply);
            await connector.SaveSequenceAsync(seq, history.ToArray());
        }

        int[] next = [.. history, .. TestModels.Tokens(30, 26)];
        var (l, r) = Cached(engine, next);
        Assert.Equal(512, r.LoadedTokens);
        Assert.Equal(Recompute(next), l);
    }

    [Fact]
    public async Task A_system_prompt_saved_with_a_priority_keeps_it_and_the_rest_of_the_sequence_does_not()
    {
        using var store = new TieredStore([Dram()]);
        var connector = new KvConnector(store, Layout) { PromptPriority = new PrefixPriority(300, 200) };
        var engine = new CachedEngine(_model, connector, LoadingPlanner());
        var prompt = TestModels.Tokens(600, 28);
        var logits = new float[_config.VocabSize];
        using (var seq = new KvSequence(_pool))
        {
            await engine.Prefill(seq, prompt, logits).Saves;
            await connector.SaveSequenceAsync(seq, prompt);
        }

        // 300 tokens cover one whole chunk of 256; the second chunk holds the request's own tokens too.
        var keys = PrefixHasher.ComputeKeys(Layout, TenantSalt.None, prompt);
        Assert.Equal(2, keys.Length);
        Assert.True(store.Tiers[0].Contains(keys[0]) && store.Tiers[0].Contains(keys[1]));
        Assert.Equal(200, store.Priorities.PriorityOf(keys[0]));
        Assert.Equal(0, store.Priorities.PriorityOf(keys[1]));
    }

    [Fact]
    public void Ssd_hit_gives_logits_bit_identical_to_recompute()
    {
        using var store = new TieredStore([Ssd()]);
        var engine = new CachedEngine(_model, new KvConnector(store, Layout), LoadingPlanner());
        var tokens = TestModels.Tokens(800, 27);
        Cached(engine, tokens);

        // The SSD is not measured yet: one probe chunk, then the whole hit.
        var (probeLogits, probe) = Cached(engine, tokens);
        Assert.Equal(256, probe.LoadedTokens);
        Assert.Equal(Recompute(tokens), probeLogits);
        var (logits, hit) = Cached(engine, tokens);
        Assert.Equal(768, hit.LoadedTokens);
        Assert.Equal(768, hit.ServedTokens["ssd"]);
        Assert.Equal(Recompute(tokens), logits);
    }

    [Fact]
    public async Task A_restarted_ssd_tier_still_serves_bit_identical_prefixes()
    {
        var tokens = TestModels.Tokens(600, 28);
        using (var store = new TieredStore([Ssd()]))
        {
            Cached(new CachedEngine(_model, new KvConnector(store, Layout)), tokens);
        }

        using var reopened = new TieredStore([Dram(), Ssd()]);
        var planner = LoadingPlanner();
        Assert.NotNull(await TierCalibration.MeasureAsync(reopened.Tiers[1], Layout, planner));
        var engine = new CachedEngine(_model, new KvConnector(reopened, Layout), planner);
        var (logits, hit) = Cached(engine, tokens);
        Assert.Equal(512, hit.LoadedTokens);
        Assert.Equal(512, hit.ServedTokens["ssd"]);
        Assert.Equal(Recompute(tokens), logits);
    }

    [Fact]
    public void Planner_chooses_recompute_when_the_tier_is_slower_than_prefill()
    {
        var slow = new SlowTier(Dram(), TimeSpan.FromMilliseconds(300));
        using var store = new TieredStore([slow]);
        var planner = new LoadPlanner(_config);
        var engine = new CachedEngine(_model, new KvConnector(store, Layout), planner);
        var tokens = TestModels.Tokens(1100, 29);
        // Recompute once so the planner knows the engine's speed, and store the 4 chunks.
        Cached(engine, tokens);
        Assert.Equal(4, slow.ChunkCount);

        // Unmeasured: the tier gets a single probe chunk, which measures it.
        var (probeLogits, probe) = Cached(engine, tokens);
        Assert.Equal(256, probe.LoadedTokens);
        Assert.NotNull(planner.TierBandwidth("slow"));
        Assert.Equal(Recompute(tokens), probeLogits);

        // Measured slower than recomputing: nothing is loaded, and the result is still exact.
        int readsBefore = slow.Reads;
        var (logits, r) = Cached(engine, tokens);
        Assert.Equal(1024, r.HitTokens);
        Assert.Equal(0, r.LoadedTokens);
        Assert.Equal(readsBefore, slow.Reads);
        Assert.Contains("recompute", r.Plan!.Reason);
        Assert.Equal(Recompute(tokens), logits);
    }

    [Fact]
    public void Planner_loads_everything_from_a_fast_tier_and_nothing_from_a_slow_one()
    {
        var config = ModelConfig.Small;
        var planner = new LoadPlanner(config);
        planner.ObservePrefill(4096, 0, 8.0);
        var layout = config.KvLayout();
        using var fast = Dram(1, "dram");
        var slow = new SlowTier(Dram(1, "inner"), TimeSpan.Zero);
        var match = new PrefixMatch(5000, new ChunkKey[19], 19, new int[19], 256);
        var plan = planner.Plan(match, [fast], layout.ChunkBytes);
        Assert.Equal(19, plan.LoadChunks);

        planner.ObserveTier("slow", layout.ChunkBytes, 10.0);
        var slowPlan = planner.Plan(match, [slow], layout.ChunkBytes);
        Assert.Equal(0, slowPlan.LoadChunks);
        slow.Dispose();
    }

    [Fact]
    public void A_failing_tier_degrades_to_recompute()
    {
        var failing = new SlowTier(Dram(), TimeSpan.Zero, failReads: true);
        using var store = new TieredStore([failing]);
        var engine = new CachedEngine(_model, new KvConnector(store, Layout), LoadingPlanner());
        var tokens = TestModels.Tokens(600, 30);
        Cached(engine, tokens);
        var (logits, r) = Cached(engine, tokens);
        Assert.Equal(512, r.HitTokens);
        Assert.Equal(0, r.LoadedTokens);
        Assert.Equal(Recompute(tokens), logits);
    }

    [Fact]
    public void Layers_arrive_in_order_and_every_layer_is_signalled()
    {
        using var store = new TieredStore([Dram()]);
        var connector = new KvConnector(store, Layout);
        var tokens = TestModels.Tokens(600, 31);
        Cached(new CachedEngine(_model, connector), tokens);

        using var seq = new KvSequence(_pool);
        seq.EnsureCapacity(tokens.Length);
        var match = connector.Match(tokens);
        Assert.Equal(512, match.HitTokens);
        using var transfer = connector.StartLoad(match, seq, 2);
        Assert.Equal(512, transfer.WaitForReads());
        for (int l = 0; l < _config.Layers; l++)
        {
            transfer.WaitForLayer(l);
        }

        seq.SetLength(512);
        var logits = new float[_config.VocabSize];
        _model.Forward(seq, tokens.AsSpan(512), logits);
        Assert.Equal(Recompute(tokens), logits);
    }
}
