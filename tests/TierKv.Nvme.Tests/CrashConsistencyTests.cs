using System.Diagnostics;
using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;
using Xunit.Abstractions;

namespace TierKv.Nvme.Tests;

public sealed class CrashConsistencyTests(ITestOutputHelper output)
{
    private const int Rounds = 20;
    private const int ChunksPerRound = 300;

    [Theory]
    [InlineData(IoSubmission.Threads)]
    [InlineData(IoSubmission.IoUring)]
    public async Task After_SIGKILL_at_random_moments_every_visible_chunk_verifies_and_completed_stores_survive(IoSubmission submission)
    {
        using var dir = new TempDir();
        var rng = new Random(20261126);
        var keyToChunk = new Dictionary<ChunkKey, long>();
        var completed = new List<long>();
        long damagedSlots = 0;
        for (int round = 0; round < Rounds; round++)
        {
            long first = (long)round * ChunksPerRound;
            for (long n = first; n < first + ChunksPerRound; n++)
            {
                keyToChunk[TestChunks.Key(n)] = n;
            }

            // Kill after a random number of completed stores (0..40), while up to 4 more writes are in flight.
            int killAfter = rng.Next(0, 41);
            var roundCompleted = await RunChildUntilKilled(dir.Path, first, killAfter, submission);
            completed.AddRange(roundCompleted);

            using var tier = new NvmeTier(TestChunks.Options(dir.Path));
            damagedSlots += tier.Recovery.DamagedSlots;

            // Every visible chunk verifies and holds exactly the bytes that were stored under its key.
            var buf = new byte[TestChunks.Layout.ChunkBytes];
            var expected = new byte[TestChunks.Layout.ChunkBytes];
            foreach (var key in tier.ResidentKeys())
            {
                Assert.True(keyToChunk.TryGetValue(key, out long n), $"round {round}: a chunk no child stored is visible: {key}");
                Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(TestChunks.Layout, key, buf));
                TestChunks.Fill(n, expected);
                Assert.True(expected.AsSpan().SequenceEqual(buf), $"round {round}: chunk {n} came back with other bytes");
            }

            Assert.Equal(0, tier.DamagedReads);
        }

        // Completed stores are served again (the files hold them all: no eviction at this capacity).
        using (var tier = new NvmeTier(TestChunks.Options(dir.Path)))
        {
            int served = 0;
            foreach (long n in completed)
            {
                if (tier.Contains(TestChunks.Key(n)))
                {
                    served++;
                }
            }

            output.WriteLine($"{Rounds} SIGKILL rounds: {completed.Count} completed stores, {served} served after restart, {damagedSlots} torn slots dropped over all restarts");
            Assert.True(completed.Count >= Rounds, "the children completed too few stores for the test to mean anything");
            Assert.True(served >= completed.Count * 0.999, $"only {served} of {completed.Count} completed stores were served after the crashes");
        }
    }

    private static async Task<List<long>> RunChildUntilKilled(string dir, long first, int killAfter, IoSubmission submission)
    {
        string testBin = AppContext.BaseDirectory;
        string childDll = Path.Combine(testBin.Replace("TierKv.Nvme.Tests", "TierKv.Nvme.CrashChild", StringComparison.Ordinal), "TierKv.Nvme.CrashChild.dll");
        Assert.True(File.Exists(childDll), $"crash child not built at {childDll}");
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(childDll);
        psi.ArgumentList.Add(dir);
        psi.ArgumentList.Add(first.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(ChunksPerRound.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(submission.ToString());
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var completed = new List<long>();
        bool killed = false;
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("ready ", StringComparison.Ordinal) && (submission == IoSubmission.Threads || IoUringProbe.Check().Available))
            {
                Assert.Equal(submission == IoSubmission.Threads ? "threads" : "io_uring", line[6..]); // the path under test
            }

            if (line.StartsWith("stored ", StringComparison.Ordinal))
            {
                completed.Add(long.Parse(line.AsSpan(7), System.Globalization.CultureInfo.InvariantCulture));
            }

            if (!killed && completed.Count >= killAfter)
            {
                child.Kill(); // SIGKILL on Linux: no cleanup runs in the child
                killed = true;
            }
        }

        await child.WaitForExitAsync();
        Assert.True(killed || child.ExitCode == 0, $"crash child failed: {await stderr}");
        return completed;
    }
}
