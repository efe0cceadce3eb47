using TierKv.Engine.Connector;
using TierKv.Engine.Model;
using TierKv.Tiers;

namespace TierKv.Engine.Planning;

/// <summary>
/// Decides per request how much of a TierKV hit to load and how much to recompute, from online measurements: each
/// tier's bandwidth as seen by the connector, and the engine's prefill speed as an effective FLOP rate over the
/// model's linear and attention work. It loads the chunk prefix that maximises (prefill time saved − load time)
/// and loads nothing when no prefix pays, so a hit never makes a request slower than recomputing. A tier not yet
/// measured serves at most one probe chunk per request (DRAM starts from a conservative memcpy prior instead).
/// </summary>
public sealed class LoadPlanner
{
    /// <summary>Bandwidth assumed for a DRAM tier before it is measured (well below memcpy speed).</summary>
    public const double DramPriorBytesPerSecond = 2e9;

    /// <summary>Prefill FLOP rate assumed before the engine is measured.</summary>
    public const double PriorFlopsPerSecond = 50e9;

    private const double Smoothing = 0.3;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, double> _bandwidth = new(StringComparer.Ordinal);
    private readonly double _linearFlopsPerToken;
    private readonly double _attentionFlopsPerContext;
    private double _flopsPerSecond = PriorFlopsPerSecond;
    private bool _prefillMeasured;

    /// <summary>Creates a planner for <paramref name="config"/>'s cost model.</summary>
    public LoadPlanner(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long embed = (long)config.VocabSize * config.Hidden;
        _linearFlopsPerToken = 2.0 * (config.Parameters - embed - (config.TieEmbeddings ? 0 : embed));
        _attentionFlopsPerContext = 4.0 * config.QDim * config.Layers;
    }

    /// <summary>The engine's measured effective prefill FLOP rate (the prior until measured).</summary>
    public double PrefillFlopsPerSecond
    {
        get
        {
            lock (_lock)
            {
                return _flopsPerSecond;
            }
        }
    }

    /// <summary>
    /// Whether <see cref="ObservePrefill"/> updates the speed (default). Tests of the data path pin a speed so the
    /// plan does not depend on how busy the machine is.
    /// </summary>
    public bool LearnPrefillSpeed { get; set; } = true;

    /// <summary>Whether a prefill has been observed.</summary>
    public bool PrefillMeasured => _prefillMeasured;

    /// <summary>A tier's measured bandwidth in bytes per second, or null before its first load.</summary>
    public double? TierBandwidth(string tier)
    {
        lock (_lock)
        {
            return _bandwidth.TryGetValue(tier, out double bw) ? bw : null;
        }
    }

    /// <summary>Records a load of <paramref name="bytes"/> from <paramref name="tier"/> that took <paramref name="seconds"/>.</summary>
    public void ObserveTier(string tier, long bytes, double seconds)
    {
        ArgumentNullException.ThrowIfNull(tier);
        if (bytes <= 0 || seconds <= 0)
        {
            return;
        }

        double bw = bytes / seconds;
        lock (_lock)
        {
            _bandwidth[tier] = _bandwidth.TryGetValue(tier, out double old) ? old + (Smoothing * (bw - old)) : bw;
        }
    }

    /// <summary>Records a prefill of <paramref name="tokens"/> tokens after <paramref name="start"/> cached positions.</summary>
    public void ObservePrefill(int tokens, int start, double seconds)
    {
        if (tokens <= 0 || seconds <= 0 || (_prefillMeasured && !LearnPrefillSpeed))
        {
            return;
        }

        double rate = PrefillFlops(tokens, start) / seconds;
        lock (_lock)
        {
            _flopsPerSecond = _prefillMeasured ? _flopsPerSecond + (Smoothing * (rate - _flopsPerSecond)) : rate;
            _prefillMeasured = true;
        }
    }

    /// <summary>FLOPs of a prefill of <paramref name="tokens"/> tokens after <paramref name="start"/> positions.</summary>
    public double PrefillFlops(int tokens, int start)
    {
        // Attention of row i reads start + i + 1 positions.
        double contexts = tokens * (start + ((tokens + 1) / 2.0));
        return (_linearFlopsPerToken * tokens) + (_attentionFlopsPerContext * contexts);
    }

    /// <summary>Predicted seconds of a prefill of <paramref name="tokens"/> tokens after <paramref name="start"/> positions.</summary>
    public double PrefillSeconds(int tokens, int start) => tokens <= 0 ? 0 : PrefillFlops(tokens, start) / PrefillFlopsPerSecond;

    /// <summary>
    /// Plans a request: <paramref name="tiers"/> are the store's tiers (for names and kinds), <paramref name="chunkBytes"/>
    /// the layout's chunk size. At least one token is always recomputed so the request has logits.
    /// </summary>
    public LoadPlan Plan(PrefixMatch match, IReadOnlyList<IKvTier> tiers, int chunkBytes)
    {
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(tiers);
        int n = match.PromptTokens;
        int tpc = match.TokensPerChunk;
        int maxChunks = System.Math.Min(match.HitChunks, (n - 1) / tpc);
        if (maxChunks <= 0)
        {
            return new LoadPlan(0, 0, 0, 0, match.HitChunks == 0 ? "miss" : "hit covers the whole prompt's last token only");
        }

        double full = PrefillSeconds(n, 0);
        double dramBw;
        lock (_lock)
        {
            dramBw = FindDram(tiers) is { } dramName && _bandwidth.TryGetValue(dramName, out double b) ? b : DramPriorBytesPerSecond;
        }

        double load = 0, bestBenefit = 0, bestLoad = 0, bestSaved = 0;
        int best = 0;
        var probed = new HashSet<string>(StringComparer.Ordinal);
        string reason = "recompute is faster than loading";
        for (int c = 0; c < maxChunks; c++)
        {
            var tier = tiers[match.ChunkTiers[c]];
            // Every chunk is scattered into the pages at memcpy speed; chunks below DRAM are read first.
            double cost = chunkBytes / dramBw;
            if (tier.Kind != TierKind.Dram)
            {
                double? bw = TierBandwidth(tier.Name);
                if (bw is null)
                {
                    if (!probed.Add(tier.Name))
                    {
                        reason = $"tier {tier.Name} not measured yet: one probe chunk";
                        break;
                    }

                    // An unmeasured tier gets one chunk, costed like DRAM, so its speed is learnt at bounded risk.
                    bw = dramBw;
                }

                cost += chunkBytes / bw.Value;
            }

            load += cost;
            int k = c + 1;
            double saved = full - PrefillSeconds(n - (k * tpc), k * tpc);
            double benefit = saved - load;
            if (benefit > bestBenefit)
            {
                bestBenefit = benefit;
                best = k;
                bestLoad = load;
                bestSaved = saved;
            }
        }

        if (best == maxChunks)
        {
            reason = "load the whole hit";
        }
        else if (best > 0)
        {
            reason = $"load {best} of {maxChunks} chunks: {reason} past them";
        }

        return new LoadPlan(best, best * tpc, bestLoad, bestSaved, reason);
    }

    private static string? FindDram(IReadOnlyList<IKvTier> tiers)
    {
        foreach (var t in tiers)
        {
            if (t.Kind == TierKind.Dram)
            {
                return t.Name;
            }
        }

        return null;
    }
}
