using System.Diagnostics;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Nvme.CrashChild;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>Runs the SSD tier on a 2 MiB tmpfs of the test's own; skipped where mounting is not allowed.</summary>
public sealed class FullDiskTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    [SkippableFact]
    public async Task Preallocation_on_a_small_disk_shrinks_capacity_counts_it_and_the_tier_works()
    {
        using var mount = SmallFileSystem.TryMount(out string? why);
        Skip.If(mount is null, why);
        using var metrics = new TierKvMetrics();
        var opts = NvmeTierTests.Options(mount!.Path, chunks: 400) with { FileBytes = 1L << 30 };
        using var tier = new NvmeTier(opts, metrics);
        Assert.True(tier.CapacityBytes < 400L * Layout.ChunkBytes, "capacity should shrink to what fits");
        Assert.True(tier.CapacityBytes > 0);
        Assert.Equal(1, tier.NoSpaceRejections);
        Assert.True(metrics.ForTier("ssd").Rejections >= 1);
        int slots = (int)(tier.CapacityBytes / Layout.ChunkBytes);
        for (int n = 0; n < slots + 5; n++)
        {
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n)));
        }

        Assert.Equal(slots, tier.ChunkCount); // full capacity evicts, it does not fail
        Assert.Equal(NvmeTierTests.Payload(slots + 4), await NvmeTierTests.ReadAsync(tier, slots + 4));
    }

    [SkippableFact]
    public async Task Disk_filling_up_under_sparse_files_stops_admission_counts_it_and_keeps_serving()
    {
        using var mount = SmallFileSystem.TryMount(out string? why);
        Skip.If(mount is null, why);
        var opts = NvmeTierTests.Options(mount!.Path, chunks: 400) with { Preallocate = false, FileBytes = 1L << 30 };
        using var tier = new NvmeTier(opts);
        var stored = new List<int>();
        int noSpace = 0;
        for (int n = 0; n < 400 && noSpace < 3; n++)
        {
            var s = await tier.WriteAsync(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n));
            if (s == TierWriteStatus.Stored)
            {
                stored.Add(n);
            }
            else
            {
                Assert.Equal(TierWriteStatus.NoSpace, s); // a status, never an exception
                noSpace++;
            }
        }

        Assert.Equal(3, noSpace);
        Assert.True(stored.Count > 10);
        Assert.Equal(3, tier.NoSpaceRejections);
        foreach (int n in stored)
        {
            Assert.Equal(NvmeTierTests.Payload(n), await NvmeTierTests.ReadAsync(tier, n));
        }
    }

    private sealed class SmallFileSystem : IDisposable
    {
        private SmallFileSystem(string path) => Path = path;

        public string Path { get; }

        public static SmallFileSystem? TryMount(out string? why)
        {
            string path = System.IO.Path.Combine("/var/tmp", $"tierkv-fulldisk-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(path);
            var (rc, err) = Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", path);
            if (rc != 0)
            {
                Directory.Delete(path);
                why = $"cannot mount a 2 MiB tmpfs for the full-disk test (needs root or CAP_SYS_ADMIN): {err.Trim()}";
                return null;
            }

            why = null;
            return new SmallFileSystem(path);
        }

        public void Dispose()
        {
            Run("umount", "-l", Path);
            Directory.Delete(Path, recursive: true);
        }

        private static (int Rc, string Err) Run(string file, params string[] args)
        {
            try
            {
                var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
                foreach (var a in args)
                {
                    psi.ArgumentList.Add(a);
                }

                using var p = Process.Start(psi)!;
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                return (p.ExitCode, err);
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return (-1, ex.Message);
            }
        }
    }
}
