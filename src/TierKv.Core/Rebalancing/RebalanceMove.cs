namespace TierKv.Rebalancing;

/// <summary>
/// One step of capacity moved between tenants. The gain and the loss are in units of the summed hit ratio (hits over
/// all tenants' accesses) per slot, as the curves estimated them when the move was made.
/// </summary>
/// <param name="From">Index of the tenant that gives the slots.</param>
/// <param name="To">Index of the tenant that receives them.</param>
/// <param name="Slots">Slots moved.</param>
/// <param name="GainPerSlot">The receiver's estimated gain per slot.</param>
/// <param name="LossPerSlot">The giver's estimated loss per slot.</param>
public readonly record struct RebalanceMove(int From, int To, int Slots, double GainPerSlot, double LossPerSlot);
