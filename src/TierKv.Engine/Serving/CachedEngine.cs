using System.Diagnostics;
using TierKv.Engine.Cache;
using TierKv.Engine.Connector;
using TierKv.Engine.Model;
using TierKv.Engine.Planning;

namespace TierKv.Engine.Serving;

/// <summary>
/// A transformer wired to TierKV: each prefill asks the connector how much of the prompt is cached, lets the planner
/// choose how much to load, loads it layer by layer while the suffix computes, and saves the new full chunks in the
/// background. Without a connector it is the plain engine (full recompute), the demo's baseline.
/// </summary>
public sealed class CachedEngine
{
    /// <summary>Creates an engine; <paramref name="connector"/> null means plain recompute.</summary>
    public CachedEngine(Transformer model, KvConnector? connector, LoadPlanner? planner = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Connector = connector;
        Planner = planner ?? new LoadPlanner(model.Config);
    }

    /// <summary>The model.</summary>
    public Transformer Model { get; }

    /// <summary>The connector, or null.</summary>
    public KvConnector? Connector { get; }

    /// <summary>The load-or-recompute planner (measured online).</summary>
    public LoadPlanner Planner { get; }

    /// <summary>
    /// Prefills <paramref name="tokens"/> into the empty <paramref name="sequence"/> and writes the last row's logits.
    /// </summary>
    public PrefillResult Prefill(KvSequence sequence, int[] tokens, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(tokens);
        if (sequence.Length != 0)
        {
            throw new ArgumentException("Prefill starts from an empty sequence; use Model.Forward to extend one.", nameof(sequence));
        }

        long t0 = Stopwatch.GetTimestamp();
        if (Connector is null)
        {
            Model.Forward(sequence, tokens, logits);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            Planner.ObservePrefill(tokens.Length, 0, s);
            return new PrefillResult { PromptTokens = tokens.Length, HitTokens = 0, LoadedTokens = 0, Seconds = s };
        }

        var match = Connector.Match(tokens);
        var plan = Planner.Plan(match, Connector.Store.Tiers, Connector.Layout.ChunkBytes);
        sequence.EnsureCapacity(tokens.Length);
        var transfer = Connector.StartLoad(match, sequence, plan.LoadChunks);
        int loaded = transfer.WaitForReads();
        sequence.SetLength(loaded);
        transfer.PlanSaves();
        long f0 = Stopwatch.GetTimestamp();
        try
        {
            Model.Forward(sequence, tokens.AsSpan(loaded), logits, transfer);
        }
        catch
        {
            transfer.CancelSaves();
            transfer.Dispose();
            throw;
        }

        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double forward = Stopwatch.GetElapsedTime(f0).TotalSeconds;
        transfer.Dispose();
        foreach (var r in transfer.Readings)
        {
            Planner.ObserveTier(r.Tier, r.Bytes, r.Seconds);
        }

        // With a pipelined load, the forward time bounds the prefill speed from below: still a valid observation.
        Planner.ObservePrefill(tokens.Length - loaded, loaded, forward);
        return new PrefillResult
        {
            PromptTokens = tokens.Length,
            HitTokens = match.HitTokens,
            LoadedTokens = loaded,
            Seconds = seconds,
            Plan = plan,
            ServedTokens = transfer.ServedTokens,
            Saves = transfer.WaitForSavesAsync(),
            Transfer = transfer,
        };
    }

    /// <summary>
    /// Decodes up to <paramref name="maxTokens"/> tokens after a prefill whose last logits are in
    /// <paramref name="logits"/>; stops after a token in <paramref name="stopTokens"/>. Returns the generated tokens
    /// (the last one is not yet in the sequence).
    /// </summary>
    public List<int> Decode(KvSequence sequence, Span<float> logits, int maxTokens, TokenSampler sampler, IReadOnlySet<int>? stopTokens = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(sampler);
        var output = new List<int>(maxTokens);
        Span<int> one = stackalloc int[1];
        for (int i = 0; i < maxTokens; i++)
        {
            int next = sampler.Sample(logits);
            output.Add(next);
            if (i == maxTokens - 1 || (stopTokens?.Contains(next) ?? false))
            {
                break;
            }

            one[0] = next;
            Model.Forward(sequence, one, logits);
        }

        return output;
    }
}
