namespace TierKv.Eviction;

/// <summary>
/// TierKV's default: learned credit (<c>lc</c>) hedged against prefix-aware LRU. The tier follows a
/// <see cref="LeaderPolicy"/> whose experts are <c>lc-prefix</c> (leading from the start) and <c>lru-prefix</c> (the
/// baseline it moves to when <c>lc</c> falls clearly behind on the prefix hits both would have had), and it evicts
/// leaves first (a chunk before its ancestors), so it does not fall clearly below the better of <c>lru</c> and
/// <c>lru-prefix</c> (docs/analysis.md, "The trace suite").
/// </summary>
public sealed class HedgePolicy : EvictionPolicy
{
    private readonly PrefixAwarePolicy _inner;

    /// <summary>Creates the policy for <paramref name="capacity"/> slots with <see cref="DefaultOptions"/>.</summary>
    public HedgePolicy(int capacity)
        : this(capacity, DefaultOptions)
    {
    }

    /// <summary>Creates the policy for <paramref name="capacity"/> slots with other leader settings (tests, research).</summary>
    public HedgePolicy(int capacity, LeaderPolicyOptions options)
        : base(capacity)
    {
        Leader = new LeaderPolicy(capacity, options);
        _inner = new PrefixAwarePolicy(Leader);
    }

    /// <summary>
    /// Two experts, both prefix-aware: <c>lru-prefix</c> (the baseline) and <c>lc-prefix</c> (leads at start). No move
    /// before 8 turnovers (while <c>lc</c> is still learning: moves away and back then cost more than they won on the
    /// conversation trace), scores over 8 turnovers, a 3% lead; the fast retreat to the baseline as in <c>leader</c>,
    /// and during the warm-up the fast return to <c>lc-prefix</c> once it leads again (docs/analysis.md).
    /// </summary>
    public static LeaderPolicyOptions DefaultOptions { get; } = new()
    {
        Experts =
        [
            new("lru-prefix", c => new PrefixAwarePolicy(new LruPolicy(c))),
            new("lc-prefix", c => new PrefixAwarePolicy(new LearnedCreditPolicy(c))),
        ],
        InitialLeader = 1,
        WarmupTurnovers = 8,
        HalfLifeTurnovers = 8,
        SwitchMargin = 0.03,
        FastReturn = true,
    };

    /// <summary>The follower inside (its leader, switches and expert hits, for reports and tests).</summary>
    public LeaderPolicy Leader { get; }

    /// <inheritdoc />
    public override string Name => "hedge";

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key) => _inner.OnInsert(slot, key);

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key, ChunkKey? parent) => _inner.OnInsert(slot, key, parent);

    /// <inheritdoc />
    public override void OnHit(int slot) => _inner.OnHit(slot);

    /// <inheritdoc />
    public override void OnRemove(int slot) => _inner.OnRemove(slot);

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates) => _inner.SelectVictim(incoming, candidates);

    /// <inheritdoc />
    public override int SelectTrimVictim(IEvictionCandidates candidates) => _inner.SelectTrimVictim(candidates);

    /// <inheritdoc />
    protected override void OnResize(int previous) => _inner.Resize(Limit);
}
