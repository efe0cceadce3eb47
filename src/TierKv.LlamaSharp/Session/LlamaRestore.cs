namespace TierKv.LlamaSharp.Session;

/// <summary>
/// What <see cref="LlamaKvConnector.Restore"/> did for one prompt: cached tokens found, tokens restored into the
/// sequence, the tokens each tier served, the planner's or the codec's reason, and the restore's time and bytes.
/// </summary>
public sealed record LlamaRestore(
    int PromptTokens,
    int HitTokens,
    int RestoredTokens,
    IReadOnlyDictionary<string, int> ServedTokens,
    string Reason,
    double Seconds,
    long KvBytes);
