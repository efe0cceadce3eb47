namespace TierKv.Nvme.Io;

/// <summary>What an injected fault does to one read or write of the SSD tier's medium (see <see cref="IMediumFaults"/>).</summary>
public enum MediumFault
{
    /// <summary>The I/O runs normally.</summary>
    None,

    /// <summary>The call fails with EIO and transfers nothing.</summary>
    Fail,

    /// <summary>Only the first half of the bytes is transferred, and the call says so (a short count).</summary>
    Short,

    /// <summary>A write lands only half-way, but the call reports every byte written (a lying, torn write).</summary>
    Torn,

    /// <summary>The call fails with ENOSPC (a full disk) and transfers nothing.</summary>
    NoSpace,

    /// <summary>A read completes, but one byte in the middle of what it brought in is flipped.</summary>
    FlipByte,
}

/// <summary>
/// Fault injection for the SSD tier's medium (<see cref="NvmeTierOptions.Faults"/>): asked before each read and write
/// the tier's I/O threads issue (not the scan at open), it says what goes wrong with that call. Tests and the probe use
/// it to show that a failing disk yields statuses, misses and counted errors, never older or damaged data.
/// </summary>
public interface IMediumFaults
{
    /// <summary>The fault for the next call (called on an I/O thread; must be thread-safe).</summary>
    MediumFault Next(bool isWrite, long offset, long length);
}
