namespace TierKv.Cuda.Transfer;

/// <summary>How chunk bytes cross PCIe between pinned host memory and the engine's pages.</summary>
public enum TransferPath
{
    /// <summary>Large DMA copies between host chunks and a device staging ring; the gather/scatter kernel works on device memory.</summary>
    Staged = 0,

    /// <summary>The gather/scatter kernel reads or writes the pinned host chunks directly through mapped memory; no staging.</summary>
    Mapped = 1,
}
