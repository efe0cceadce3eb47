namespace TierKv.Rebalancing;

/// <summary>
/// Decides, each time it is asked, one step of capacity to move between tenants: it keeps a target split (at first the
/// split in force), replaces it with the best split the curves show (<see cref="CapacityPlanner"/>) only when that beats
/// the target by more than <see cref="RebalanceOptions.Hysteresis"/>, and moves at most
/// <see cref="RebalanceOptions.StepSlots"/> toward it: from the tenant above its target whose curve loses least per slot
/// to the tenant below its target whose curve gains most per slot. Moves only go toward a target that lies within every
/// tenant's minimum and maximum, so no tenant is ever moved outside them, and on curves that do not change the
/// capacities run monotonically to the target and stop (no oscillation). Not thread-safe.
/// </summary>
public sealed class CapacityRebalancer
{
    private int[]? _target;

    /// <summary>A rebalancer with <paramref name="options"/>.</summary>
    public CapacityRebalancer(RebalanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>The settings.</summary>
    public RebalanceOptions Options { get; }

    /// <summary>The split the moves go toward (null before the first call).</summary>
    public IReadOnlyList<int>? Target => _target;

    /// <summary>Times a new target was adopted.</summary>
    public long Replans { get; private set; }

    /// <summary>The next move for <paramref name="tenants"/> (their current slots sum to the capacity shared); null when none is worth making.</summary>
    public RebalanceMove? Next(ReadOnlySpan<TenantCapacity> tenants)
    {
        if (tenants.Length < 2)
        {
            return null;
        }

        int total = 0;
        double weight = 0;
        foreach (var t in tenants)
        {
            total += t.CurrentSlots;
            weight += t.Weight;
        }

        if (_target is null || _target.Length != tenants.Length || Sum(_target) != total || !WithinBounds(tenants, _target))
        {
            _target = Clamp(tenants, total);
        }

        if (weight <= 0 || weight < Options.MinAccesses)
        {
            return null;
        }

        var best = CapacityPlanner.Best(tenants, total, Options.PlanUnits);
        if (CapacityPlanner.Hits(tenants, best) - CapacityPlanner.Hits(tenants, _target) > Options.Hysteresis * weight)
        {
            _target = best;
            Replans++;
        }

        int from = -1, to = -1, give = 0, get = 0;
        double loss = double.PositiveInfinity, gain = double.NegativeInfinity;
        for (int i = 0; i < tenants.Length; i++)
        {
            var t = tenants[i];
            int c = t.CurrentSlots;
            if (c > _target[i])
            {
                int a = Math.Min(Options.StepSlots, c - _target[i]);
                double l = (t.HitsAt(c) - t.HitsAt(c - a)) / a;
                if (l < loss)
                {
                    (loss, from, give) = (l, i, a);
                }
            }
            else if (c < _target[i])
            {
                int a = Math.Min(Options.StepSlots, _target[i] - c);
                double g = (t.HitsAt(c + a) - t.HitsAt(c)) / a;
                if (g > gain)
                {
                    (gain, to, get) = (g, i, a);
                }
            }
        }

        return from < 0 || to < 0 ? null : new RebalanceMove(from, to, Math.Min(give, get), gain / weight, loss / weight);
    }

    /// <summary>The split in force, pulled inside the bounds (moves from tenants above their maximum to those below their minimum).</summary>
    private static int[] Clamp(ReadOnlySpan<TenantCapacity> tenants, int total)
    {
        var s = new int[tenants.Length];
        int excess = 0;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = Math.Clamp(tenants[i].CurrentSlots, tenants[i].MinSlots, tenants[i].MaxSlots);
            excess += tenants[i].CurrentSlots - s[i];
        }

        // What clamping took (or added) is given back (or taken) where the bounds leave room.
        for (int i = 0; i < s.Length && excess != 0; i++)
        {
            int room = excess > 0 ? tenants[i].MaxSlots - s[i] : tenants[i].MinSlots - s[i];
            int d = excess > 0 ? Math.Min(room, excess) : Math.Max(room, excess);
            s[i] += d;
            excess -= d;
        }

        if (excess != 0)
        {
            throw new ArgumentException($"{total} slots cannot be shared within the tenants' minimums and maximums.", nameof(tenants));
        }

        return s;
    }

    private static bool WithinBounds(ReadOnlySpan<TenantCapacity> tenants, int[] s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] < tenants[i].MinSlots || s[i] > tenants[i].MaxSlots)
            {
                return false;
            }
        }

        return true;
    }

    private static int Sum(int[] s)
    {
        int sum = 0;
        foreach (int v in s)
        {
            sum += v;
        }

        return sum;
    }
}
