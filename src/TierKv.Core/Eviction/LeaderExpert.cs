namespace TierKv.Eviction;

/// <summary>One expert of <see cref="LeaderPolicy"/>: a name for reports and how to make it for a capacity in slots.</summary>
public sealed record LeaderExpert
{
    /// <summary>An expert that is any policy: <paramref name="create"/> makes a fresh instance for a capacity.</summary>
    public LeaderExpert(string name, Func<int, EvictionPolicy> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        Name = name;
        Create = create;
    }

    private LeaderExpert(string name, double weight)
    {
        Name = name;
        CreditWeight = weight;
    }

    /// <summary>Lower-case name, e.g. <c>lru</c>.</summary>
    public string Name { get; }

    /// <summary>Makes the expert for a capacity (null for a credit expert, which the leader builds itself).</summary>
    public Func<int, EvictionPolicy>? Create { get; }

    /// <summary>The fixed recency weight <c>a</c> of a credit expert (alfu's order), else null.</summary>
    public double? CreditWeight { get; }

    /// <summary>
    /// alfu's order with the fixed recency weight <paramref name="weight"/>: a chunk seen before outlives a new one by
    /// <c>min(f, 2) / weight</c> turnovers; new request tails are demoted by their measured reuse. Named <c>alfu-WEIGHT</c>.
    /// </summary>
    public static LeaderExpert Credit(double weight)
    {
        if (!(weight > 0) || double.IsInfinity(weight))
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "A credit expert's weight must be positive and finite.");
        }

        return new LeaderExpert(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"alfu-{weight}"), weight);
    }
}
