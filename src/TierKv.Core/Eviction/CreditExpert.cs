
namespace TierKv.Eviction;

/// <summary>
/// An expert of <see cref="LeaderPolicy"/>: alfu's order with a fixed recency weight <c>a</c> (rank = access time +
/// <c>min(f, 2) x C / a</c>; the lowest rank goes first). Access counts and tail demotions come from the leader, which
/// keeps one frequency sketch and one tail classifier for all its credit experts instead of one each.
/// <para>
/// With only three credits (0, 1, 2) ranks within one credit class grow with access time, so each class is a FIFO list
/// and the victim is the lowest-ranked of three list heads: O(1) per access where alfu's heap costs O(log C). Demoted
/// request tails go to a fourth list, ordered by the time of demotion (their demotion changes slowly with the measured
/// tail reuse, so this order is close to rank order).
/// </para>
/// </summary>
internal sealed class CreditExpert : EvictionPolicy
{
    private const int Demoted = 3;

    private readonly SlotLinks _links;
    private readonly SlotList[] _lists = [SlotList.Empty, SlotList.Empty, SlotList.Empty, SlotList.Empty];
    private readonly double[] _rank;
    private readonly sbyte[] _list;
    private readonly CreditSignals _signals;
    private readonly double _weight;
    private double _credit;
    private long _clock;

    public CreditExpert(int capacity, double weight, CreditSignals signals)
        : base(capacity)
    {
        _links = new SlotLinks(capacity);
        _rank = new double[capacity];
        _list = new sbyte[capacity];
        _list.AsSpan().Fill(-1);
        _signals = signals;
        _weight = weight;
        _credit = capacity / weight;
    }

    public override string Name => "credit";

    public override void OnInsert(int slot, ChunkKey key) => Rank(slot);

    public override void OnHit(int slot) => Rank(slot);

    public override void OnRemove(int slot) => Unlist(slot);

    /// <summary>The credit is <c>C / a</c> of the limit from now on; ranks already given stay until their chunks are accessed again.</summary>
    protected override void OnResize(int previous) => _credit = Limit / _weight;

    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        int victim = -1;
        double best = double.PositiveInfinity;
        for (int l = 0; l < _lists.Length; l++)
        {
            // The first evictable entry of each list is that list's lowest rank (pins make us look further).
            for (int s = _lists[l].Head; s >= 0; s = _links.Next(s))
            {
                if (candidates.CanEvict(s))
                {
                    if (_rank[s] < best)
                    {
                        best = _rank[s];
                        victim = s;
                    }

                    break;
                }
            }
        }

        return victim;
    }

    /// <summary>Moves the chunk in <paramref name="slot"/> <paramref name="ranks"/> positions down (a request tail).</summary>
    public void Demote(int slot, double ranks)
    {
        if (_list[slot] < 0)
        {
            return;
        }

        double rank = _rank[slot] - ranks;
        Unlist(slot);
        _rank[slot] = rank;
        _list[slot] = Demoted;
        _links.PushTail(ref _lists[Demoted], slot);
    }

    private void Rank(int slot)
    {
        Unlist(slot);
        int credit = _signals.Credit;
        _rank[slot] = _clock + (credit * _credit);
        _list[slot] = (sbyte)credit;
        _links.PushTail(ref _lists[credit], slot);
        _clock++;
    }

    private void Unlist(int slot)
    {
        int l = _list[slot];
        if (l >= 0)
        {
            _links.Remove(ref _lists[l], slot);
            _list[slot] = -1;
        }
    }
}

/// <summary>What <see cref="LeaderPolicy"/> tells its credit experts about the access they are about to see.</summary>
internal sealed class CreditSignals
{
    /// <summary>Capped count of earlier accesses of the key (0, 1 or 2).</summary>
    public int Credit;
}
