namespace TierKv.Tiers.Slots;

/// <summary>A pin would take the pinned bytes past their limit; nothing was pinned.</summary>
public sealed class PinLimitExceededException(long limitBytes, long pinnedBytes, long requestedBytes)
    : InvalidOperationException($"Pinning {requestedBytes} more bytes would exceed the pinned-bytes limit of {limitBytes} bytes ({pinnedBytes} bytes are pinned already); unpin chunks or raise the limit (MaxPinnedBytes).")
{
    /// <summary>The limit in bytes.</summary>
    public long LimitBytes { get; } = limitBytes;

    /// <summary>Bytes pinned before the pin.</summary>
    public long PinnedBytes { get; } = pinnedBytes;

    /// <summary>Bytes the pin would have added.</summary>
    public long RequestedBytes { get; } = requestedBytes;
}
