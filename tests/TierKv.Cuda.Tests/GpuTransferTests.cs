using TierKv.Cuda.Checks;
using TierKv.Cuda.Transfer;
using TierKv.Keys;

namespace TierKv.Cuda.Tests;

/// <summary>GPU kernels against the CPU reference; skipped with the reason when this machine has no GPU (CI).</summary>
public sealed class GpuTransferTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    [SkippableTheory]
    [InlineData(KvElementType.BFloat16, 16, TransferPath.Staged, 1, false)]
    [InlineData(KvElementType.BFloat16, 16, TransferPath.Staged, 0, true)]
    [InlineData(KvElementType.BFloat16, 32, TransferPath.Staged, 2, false)]
    [InlineData(KvElementType.Float16, 16, TransferPath.Staged, 1, true)]
    [InlineData(KvElementType.Float16, 32, TransferPath.Staged, 0, false)]
    [InlineData(KvElementType.BFloat16, 16, TransferPath.Mapped, 1, false)]
    [InlineData(KvElementType.Float16, 32, TransferPath.Mapped, 1, true)]
    public void Gpu_load_and_save_match_the_cpu_reference_bit_exact(KvElementType type, int blockSize, TransferPath path, int layersPerGroup, bool contiguous)
    {
        Skip.If(gpu.Device is null, gpu.SkipReason);
        GpuTransferChecks.RoundTrip(gpu.Device!, type, blockSize, path, layersPerGroup, contiguous, Environment.TickCount);
    }

    [SkippableFact]
    public void Pinned_dram_tier_slots_load_to_pages_and_pages_save_into_slots()
    {
        Skip.If(gpu.Device is null, gpu.SkipReason);
        GpuTransferChecks.PinnedTierRoundTrip(gpu.Device!, Environment.TickCount);
    }

    [SkippableFact]
    public void A_failing_driver_call_throws_naming_the_call()
    {
        Skip.If(gpu.Device is null, gpu.SkipReason);
        GpuTransferChecks.ErrorsNameTheCall(gpu.Device!);
    }
}
