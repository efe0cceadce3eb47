using TierKv.Nvme.Io;
using TierKv.Tests.Shared;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>The tier contract on the NVMe SSD tier (O_DIRECT files in a scratch folder), on the default submission path.</summary>
public class NvmeTierConformanceTests : TierConformanceTests, IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>The submission path under test.</summary>
    protected virtual IoSubmission Submission => IoSubmission.Auto;

    public void Dispose()
    {
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }

    protected override Task<IKvTier> CreateAsync(int chunks) => Task.FromResult<IKvTier>(new NvmeTier(new NvmeTierOptions
    {
        Directory = Path.Combine(_dir.Path, Guid.NewGuid().ToString("N")),
        CapacityBytes = (long)chunks * Layout.ChunkBytes,
        SlotBytes = Layout.ChunkBytes,
        QueueDepth = 4,
        Submission = Submission,
        FileBytes = 8L * (BlockFile.Alignment + NvmeTierOptions.AlignUp(Layout.ChunkBytes + 64)),
        Log = static _ => { },
    }));
}

/// <summary>The tier contract on the thread path.</summary>
public sealed class ThreadPathNvmeTierConformanceTests : NvmeTierConformanceTests
{
    protected override IoSubmission Submission => IoSubmission.Threads;
}
