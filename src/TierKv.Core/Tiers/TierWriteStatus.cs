namespace TierKv.Tiers;

/// <summary>Outcome of writing one chunk to a tier.</summary>
public enum TierWriteStatus
{
    /// <summary>Written and visible to lookups.</summary>
    Stored,

    /// <summary>The tier already held this key; nothing was written.</summary>
    AlreadyPresent,

    /// <summary>No room: every slot is pinned by readers or the medium is out of space; counted.</summary>
    NoSpace,

    /// <summary>The tier's admission policy declined the chunk.</summary>
    NotAdmitted,

    /// <summary>The medium failed (I/O error, timeout); counted, nothing is visible.</summary>
    Failed,

    /// <summary>The caller's condition (the server's <c>SET NX</c>/<c>XX</c>) did not hold at commit; nothing was written.</summary>
    ConditionNotMet,
}
