
namespace TierKv.Eviction;

/// <summary>
/// Wraps a policy so that a chunk is evicted before its ancestors: a chunk whose parent is gone is unreachable, so
/// the wrapped policy's victim must be a leaf (no resident descendant). Only when every evictable chunk has a
/// resident descendant does it fall back to the wrapped policy's plain choice.
/// </summary>
public sealed class PrefixAwarePolicy : EvictionPolicy
{
    private readonly EvictionPolicy _inner;
    private readonly LeafOnly _leafOnly = new();

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public PrefixAwarePolicy(EvictionPolicy inner)
        : base(inner.Capacity) => _inner = inner;

    /// <inheritdoc />
    public override string Name => _inner.Name + "-prefix";

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key) => _inner.OnInsert(slot, key);

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key, ChunkKey? parent) => _inner.OnInsert(slot, key, parent);

    /// <inheritdoc />
    public override void OnHit(int slot) => _inner.OnHit(slot);

    /// <inheritdoc />
    public override void OnRemove(int slot) => _inner.OnRemove(slot);

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        _leafOnly.Outer = candidates;
        int v = _inner.SelectVictim(incoming, _leafOnly);
        _leafOnly.Outer = null;
        return v >= 0 ? v : _inner.SelectVictim(incoming, candidates);
    }

    /// <inheritdoc />
    public override int SelectTrimVictim(IEvictionCandidates candidates)
    {
        _leafOnly.Outer = candidates;
        int v = _inner.SelectTrimVictim(_leafOnly);
        _leafOnly.Outer = null;
        return v >= 0 ? v : _inner.SelectTrimVictim(candidates);
    }

    /// <inheritdoc />
    protected override void OnResize(int previous) => _inner.Resize(Limit);

    private sealed class LeafOnly : IEvictionCandidates
    {
        public IEvictionCandidates? Outer;

        // Null-safe: a policy may keep the candidates it was given and ask about leaves later (LeaderPolicy's experts).
        public bool CanEvict(int slot) => Outer is { } o && o.CanEvict(slot) && o.IsLeaf(slot);

        public bool IsLeaf(int slot) => Outer?.IsLeaf(slot) ?? true;
    }
}
