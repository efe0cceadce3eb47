namespace TierKv.Tiers.Slots;

/// <summary>A pin would take the pinned bytes past their limit; nothing was pinned.</summary>
public sealed class PinLimitExceededException : InvalidOperationException
{
    /// <summary>Names the limit, the bytes pinned already and the bytes the pin asked for.</summary>
    public PinLimitExceededException(long limitBytes, long pinnedBytes, long requestedBytes)
        : base($"Pinning {requestedBytes} more bytes would exceed the pinned-bytes limit of {limitBytes} bytes ({pinnedBytes} bytes are pinned already); unpin chunks or raise the limit (MaxPinnedBytes).")
    {
        LimitBytes = limitBytes;
        PinnedBytes = pinnedBytes;
        RequestedBytes = requestedBytes;
    }

    /// <summary>The limit in bytes.</summary>
    public long LimitBytes { get; }

    /// <summary>Bytes pinned before the pin.</summary>
    public long PinnedBytes { get; }

    /// <summary>Bytes the pin would have added.</summary>
    public long RequestedBytes { get; }
}
