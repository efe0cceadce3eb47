namespace TierKv.Store;

/// <summary>Which chunks the tier below DRAM (the SSD) admits.</summary>
public enum LowerTierAdmission
{
    /// <summary>Every chunk offered.</summary>
    All,

    /// <summary>Only chunks whose key was seen (stored or retrieved) at least twice: one-hit prefixes stay off the SSD.</summary>
    SeenTwice,
}
