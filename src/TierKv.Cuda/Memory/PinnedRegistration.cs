using TierKv.Cuda.Interop;
using TierKv.Tiers;

namespace TierKv.Cuda.Memory;

/// <summary>
/// Pins an existing host region (e.g. a DRAM tier's pool allocated as plain native memory) with
/// <c>cuMemHostRegister</c> until disposed. Use it when the pool was not allocated by
/// <see cref="CudaPinnedHostMemoryAllocator"/>.
/// </summary>
public sealed unsafe class PinnedRegistration : CudaResource
{
    private const uint RegisterPortableMapped = 0x01 | 0x02;

    /// <summary>Registers <paramref name="bytes"/> at <paramref name="pointer"/> (page-aligned) as pinned and mapped.</summary>
    public PinnedRegistration(CudaDevice device, nint pointer, long bytes)
        : base(device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (pointer == 0 || (pointer & 4095) != 0)
        {
            throw new ArgumentException($"The region to pin must be page-aligned; 0x{pointer:x} is not.", nameof(pointer));
        }

        CudaDriver.Check(CudaDriver.Api.cuMemHostRegister_v2((void*)pointer, (nuint)bytes, RegisterPortableMapped), $"cuMemHostRegister_v2({bytes} bytes)");
        Own((ulong)pointer);
        Bytes = bytes;
    }

    /// <summary>Bytes pinned.</summary>
    public long Bytes { get; }

    /// <summary>Pins <paramref name="tier"/>'s whole pool.</summary>
    public static PinnedRegistration Register(CudaDevice device, HostMemoryTier tier)
    {
        ArgumentNullException.ThrowIfNull(tier);
        return new PinnedRegistration(device, tier.PoolPointer, tier.PoolBytes);
    }

    private protected override void Release(ulong handle) => _ = CudaDriver.Api.cuMemHostUnregister((void*)handle);
}
