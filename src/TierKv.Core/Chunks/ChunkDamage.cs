namespace TierKv.Chunks;

/// <summary>Why a stored chunk was refused. Anything but <see cref="None"/> is a miss, never data.</summary>
public enum ChunkDamage
{
    /// <summary>The chunk verified.</summary>
    None = 0,

    /// <summary>Fewer bytes than a header, or than header plus payload.</summary>
    Truncated,

    /// <summary>The magic number is wrong: not a TierKV chunk.</summary>
    BadMagic,

    /// <summary>A format version this build does not read.</summary>
    BadVersion,

    /// <summary>The header's own checksum does not match.</summary>
    BadHeaderChecksum,

    /// <summary>Stored for another layout (model, shape, dtype, chunking or TP rank).</summary>
    WrongLayout,

    /// <summary>The header names another chunk key than the one asked for.</summary>
    WrongKey,

    /// <summary>The payload length differs from the expected chunk size.</summary>
    WrongLength,

    /// <summary>The payload checksum does not match: flipped or torn bytes.</summary>
    BadChecksum,
}
