using TierKv.Engine.Connector;
using TierKv.Engine.Planning;

namespace TierKv.Engine.Serving;

/// <summary>What one prefill did and how long it took.</summary>
public sealed class PrefillResult
{
    /// <summary>Prompt tokens.</summary>
    public required int PromptTokens { get; init; }

    /// <summary>Leading tokens TierKV could supply (0 without a connector).</summary>
    public required int HitTokens { get; init; }

    /// <summary>Tokens loaded from TierKV.</summary>
    public required int LoadedTokens { get; init; }

    /// <summary>Tokens computed by the engine.</summary>
    public int ComputedTokens => PromptTokens - LoadedTokens;

    /// <summary>Time to first token: from the request until its logits (lookup, load, prefill).</summary>
    public required double Seconds { get; init; }

    /// <summary>The plan (null without a connector).</summary>
    public LoadPlan? Plan { get; init; }

    /// <summary>Tokens served per tier name.</summary>
    public IReadOnlyDictionary<string, int> ServedTokens { get; init; } = new Dictionary<string, int>();

    /// <summary>Completes when the new chunks are stored (already complete without a connector).</summary>
    public Task<int> Saves { get; init; } = Task.FromResult(0);

    /// <summary>The transfer, for diagnostics (null without a connector).</summary>
    public KvTransfer? Transfer { get; init; }
}
