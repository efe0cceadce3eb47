using TierKv.Nvme.Io;
using TierKv.Tests.Shared;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>The tier contract on the NVMe SSD tier (O_DIRECT files in a scratch folder).</summary>
public sealed class NvmeTierConformanceTests : TierConformanceTests, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    protected override Task<IKvTier> CreateAsync(int chunks) => Task.FromResult<IKvTier>(new NvmeTier(new NvmeTierOptions
    {
        Directory = Path.Combine(_dir.Path, Guid.NewGuid().ToString("N")),
        CapacityBytes = (long)chunks * Layout.ChunkBytes,
        SlotBytes = Layout.ChunkBytes,
        QueueDepth = 4,
        FileBytes = 8L * (BlockFile.Alignment + NvmeTierOptions.AlignUp(Layout.ChunkBytes + 64)),
        Log = static _ => { },
    }));
}
