
namespace TierKv.Eviction;

/// <summary>Least recently used: evicts the resident chunk whose last insert or hit is oldest.</summary>
public sealed class LruPolicy : EvictionPolicy
{
    private readonly SlotLinks _links;
    private SlotList _list = SlotList.Empty;

    /// <summary>Creates an LRU policy for <paramref name="capacity"/> slots.</summary>
    public LruPolicy(int capacity)
        : base(capacity) => _links = new SlotLinks(capacity);

    /// <inheritdoc />
    public override string Name => "lru";

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key) => _links.PushTail(ref _list, slot);

    /// <inheritdoc />
    public override void OnHit(int slot) => _links.MoveToTail(ref _list, slot);

    /// <inheritdoc />
    public override void OnRemove(int slot) => _links.Remove(ref _list, slot);

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        for (int s = _list.Head; s >= 0; s = _links.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return s;
            }
        }

        return -1;
    }
}
