namespace TierKv.Rebalancing;

/// <summary>
/// The split of a fixed capacity among tenants that the curves say gives the most hits, within each tenant's minimum
/// and maximum. Searched exactly over units of the capacity above the minimums (a knapsack over the curves, so cliffs
/// and plateaus of real curves do not trap it the way following local slopes would), the remainder below one unit given
/// where it gains most.
/// </summary>
public static class CapacityPlanner
{
    /// <summary>Slots per tenant summing to <paramref name="totalSlots"/>; throws when the minimums and maximums cannot meet it.</summary>
    public static int[] Best(ReadOnlySpan<TenantCapacity> tenants, int totalSlots, int planUnits)
    {
        int n = tenants.Length;
        long minSum = 0, maxSum = 0;
        foreach (var t in tenants)
        {
            if (t.MinSlots < 0 || t.MaxSlots < t.MinSlots)
            {
                throw new ArgumentException($"A tenant's capacity bounds [{t.MinSlots}, {t.MaxSlots}] are not a range of slots.", nameof(tenants));
            }

            minSum += t.MinSlots;
            maxSum += t.MaxSlots;
        }

        if (n == 0 || minSum > totalSlots || maxSum < totalSlots)
        {
            throw new ArgumentException($"{totalSlots} slots cannot be shared within the tenants' minimums (together {minSum}) and maximums (together {maxSum}).", nameof(tenants));
        }

        int spare = totalSlots - (int)minSum;
        int unit = Math.Max(1, (spare + planUnits - 1) / Math.Max(1, planUnits));
        int units = spare / unit;

        // best[i, u]: most hits of tenants 0..i given u units above their minimums; take[i, u]: tenant i's units there.
        var best = new double[n, units + 1];
        var take = new int[n, units + 1];
        for (int i = 0; i < n; i++)
        {
            int cap = (tenants[i].MaxSlots - tenants[i].MinSlots) / unit;
            for (int u = 0; u <= units; u++)
            {
                double top = double.NegativeInfinity;
                int arg = -1;
                for (int k = 0; k <= Math.Min(u, cap); k++)
                {
                    double before = i == 0 ? (k == u ? 0 : double.NegativeInfinity) : best[i - 1, u - k];
                    double v = before + tenants[i].HitsAt(tenants[i].MinSlots + ((long)k * unit));
                    if (v > top)
                    {
                        top = v;
                        arg = k;
                    }
                }

                best[i, u] = top;
                take[i, u] = arg;
            }
        }

        // The most units the maximums let the tenants take (all of them unless maximums cut a unit short).
        int used = units;
        while (used > 0 && double.IsNegativeInfinity(best[n - 1, used]))
        {
            used--;
        }

        var slots = new int[n];
        for (int i = n - 1, u = used; i >= 0; i--)
        {
            int k = take[i, u];
            slots[i] = tenants[i].MinSlots + (k * unit);
            u -= k;
        }

        GiveRemainder(tenants, slots, totalSlots - (int)minSum - (used * unit));
        return slots;
    }

    /// <summary>Expected hits of <paramref name="slots"/>.</summary>
    public static double Hits(ReadOnlySpan<TenantCapacity> tenants, ReadOnlySpan<int> slots)
    {
        double sum = 0;
        for (int i = 0; i < tenants.Length; i++)
        {
            sum += tenants[i].HitsAt(slots[i]);
        }

        return sum;
    }

    private static void GiveRemainder(ReadOnlySpan<TenantCapacity> tenants, int[] slots, int left)
    {
        while (left > 0)
        {
            int to = -1;
            int amount = 0;
            double top = double.NegativeInfinity;
            for (int i = 0; i < tenants.Length; i++)
            {
                int a = Math.Min(left, tenants[i].MaxSlots - slots[i]);
                if (a <= 0)
                {
                    continue;
                }

                double gain = tenants[i].HitsAt(slots[i] + a) - tenants[i].HitsAt(slots[i]);
                if (gain > top)
                {
                    top = gain;
                    to = i;
                    amount = a;
                }
            }

            Debug.Assert(to >= 0, "the maximums hold the total");
            slots[to] += amount;
            left -= amount;
        }
    }
}
