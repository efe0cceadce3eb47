namespace TierKv.Eviction;

/// <summary>Settings of <see cref="LeaderPolicy"/>.</summary>
public sealed record LeaderPolicyOptions
{
    /// <summary>The defaults: LRU (the baseline), three fixed reuse credits of alfu, S3-FIFO and ARC (docs/analysis.md).</summary>
    public static LeaderPolicyOptions Default { get; } = new();

    /// <summary>The experts, each a name (for reports) and a factory taking the capacity. The first leads at start.</summary>
    public IReadOnlyList<LeaderExpert> Experts { get; init; } =
    [
        new("lru", c => new LruPolicy(c)),
        LeaderExpert.Credit(1),
        LeaderExpert.Credit(0.25),
        LeaderExpert.Credit(0.0625),
        new("s3fifo", c => new S3FifoPolicy(c)),
        new("arc", c => new ArcPolicy(c)),
    ];

    /// <summary>
    /// Index in <see cref="Experts"/> of the expert the tier follows at start (0, the baseline, by default). The baseline
    /// stays the first expert: the fast retreat goes back to it, and moving to it is never charged.
    /// </summary>
    public int InitialLeader { get; init; }

    /// <summary>
    /// Turnovers of the cache (accesses per slot) before the tier may follow another expert on the usual horizon (the
    /// fast retreat to the baseline is always on): an expert that learns (<c>lc</c>) trails the simple ones until it has
    /// seen enough, and a move away and back costs more than it wins.
    /// </summary>
    public double WarmupTurnovers { get; init; }

    /// <summary>Scores halve after this many accesses per slot of capacity (turnovers of the cache).</summary>
    public double HalfLifeTurnovers { get; init; } = 4;

    /// <summary>Half-life of the long-run scores, in turnovers: a new leader must lead there too (0: no such check).</summary>
    public double LongHalfLifeTurnovers { get; init; } = 32;

    /// <summary>Half-life of the fast scores, in turnovers: a leader that falls clearly behind the baseline there is left at once (0: off).</summary>
    public double FastHalfLifeTurnovers { get; init; } = 0.5;

    /// <summary>Relative lead another expert needs over the leader before the tier follows it.</summary>
    public double SwitchMargin { get; init; } = 0.01;

    /// <summary>
    /// During the warm-up, follow the initial leader again as soon as it leads the baseline on the fast horizon after a
    /// fast retreat (otherwise the tier stays with the baseline until the warm-up ends).
    /// </summary>
    public bool FastReturn { get; init; }

    /// <summary>Weight of the learned cost of a switch (the hits lost while the tier converges to the new leader); 0 ignores it.</summary>
    public double SwitchCostWeight { get; init; } = 1;

    /// <summary>How many standard deviations of chance (two hit counts) the lead must exceed before a switch.</summary>
    public double SwitchConfidence { get; init; } = 3;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (Experts is null || Experts.Count == 0)
        {
            throw new ArgumentException("LeaderPolicy needs at least one expert.", nameof(Experts));
        }

        if (InitialLeader < 0 || InitialLeader >= Experts.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialLeader), InitialLeader, "InitialLeader must be the index of one of the experts.");
        }

        if (!(WarmupTurnovers >= 0) || double.IsInfinity(WarmupTurnovers))
        {
            throw new ArgumentOutOfRangeException(nameof(WarmupTurnovers), WarmupTurnovers, "WarmupTurnovers must not be negative.");
        }

        if (!(HalfLifeTurnovers > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(HalfLifeTurnovers), HalfLifeTurnovers, "HalfLifeTurnovers must be positive.");
        }

        if (!(LongHalfLifeTurnovers >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(LongHalfLifeTurnovers), LongHalfLifeTurnovers, "LongHalfLifeTurnovers must not be negative.");
        }

        if (!(FastHalfLifeTurnovers >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(FastHalfLifeTurnovers), FastHalfLifeTurnovers, "FastHalfLifeTurnovers must not be negative.");
        }

        if (!(SwitchMargin >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(SwitchMargin), SwitchMargin, "SwitchMargin must not be negative.");
        }

        if (!(SwitchConfidence >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(SwitchConfidence), SwitchConfidence, "SwitchConfidence must not be negative.");
        }

        if (!(SwitchCostWeight >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(SwitchCostWeight), SwitchCostWeight, "SwitchCostWeight must not be negative.");
        }
    }
}
