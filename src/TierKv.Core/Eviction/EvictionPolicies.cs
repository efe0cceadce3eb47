namespace TierKv.Eviction;

/// <summary>
/// Creates eviction policies by name: <c>lru</c>, <c>s3fifo</c>, <c>arc</c>, <c>alfu</c>, <c>leader</c>, <c>lc</c>, <c>hedge</c> (the default), and any name with a
/// <c>-prefix</c> suffix for the prefix-aware variant.
/// </summary>
public static class EvictionPolicies
{
    private static readonly Dictionary<string, Func<int, EvictionPolicy>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lru"] = c => new LruPolicy(c),
        ["s3fifo"] = c => new S3FifoPolicy(c),
        ["arc"] = c => new ArcPolicy(c),
        ["alfu"] = c => new AdaptiveLfuPolicy(c),
        ["leader"] = c => new LeaderPolicy(c),
        ["lc"] = c => new LearnedCreditPolicy(c),
        ["hedge"] = c => new HedgePolicy(c),
    };

    /// <summary>The policy tiers use unless configured otherwise (chosen by trace replay: docs/analysis.md).</summary>
    public static string Default => "hedge";

    /// <summary>Names of the base policies (each also exists with a <c>-prefix</c> suffix).</summary>
    public static IReadOnlyCollection<string> BaseNames => Factories.Keys;

    /// <summary>Registers a policy factory under a lower-case name.</summary>
    public static void Register(string name, Func<int, EvictionPolicy> factory) => Factories[name] = factory;

    /// <summary>Creates the policy named <paramref name="name"/> for <paramref name="capacity"/> slots.</summary>
    public static EvictionPolicy Create(string name, int capacity)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        const string suffix = "-prefix";
        if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
        {
            return new PrefixAwarePolicy(Create(name[..^suffix.Length], capacity));
        }

        if (Factories.TryGetValue(name, out var f))
        {
            return f(capacity);
        }

        throw new ArgumentException($"Unknown eviction policy '{name}'. Known: {string.Join(", ", BaseNames)} (each also with '-prefix').", nameof(name));
    }
}
