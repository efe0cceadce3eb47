using System.Diagnostics;
using System.Globalization;

namespace TierKv.LlamaSharp.Tests;

/// <summary>
/// Persistence and sharing across OS processes: a process on the same data folder hits what an earlier process
/// stored on the SSD tier, and two processes that share only a Redis or Garnet cluster hit each other's prefixes;
/// in both, the restored logits equal llama.cpp's own cache bit for bit.
/// </summary>
public sealed class CrossProcessTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void A_second_process_on_the_same_data_folder_restores_from_the_ssd_tier()
    {
        string data = Path.Combine(fixture.Directory, "xproc-" + Guid.NewGuid().ToString("N"));
        string tokens = data + ".tokens";
        Assert.StartsWith("saved ", RunPeer("save", fixture.ModelPath, "ssd:" + data, tokens), StringComparison.Ordinal);
        Assert.Equal("restored 512 ssd True", RunPeer("restore", fixture.ModelPath, "ssd:" + data, tokens));
    }

    [SkippableTheory]
    [InlineData(TestClusters.Redis)]
    [InlineData(TestClusters.Garnet)]
    public void Two_processes_sharing_only_a_cluster_restore_each_others_prefixes(string cluster)
    {
        string endpoints = string.Join(',', TestClusters.Require(cluster));
        string tier = $"remote:llama{Guid.NewGuid():N}:{endpoints}";
        string tokens = Path.Combine(fixture.Directory, "xproc-" + Guid.NewGuid().ToString("N") + ".tokens");
        Assert.StartsWith("saved ", RunPeer("save", fixture.ModelPath, tier, tokens), StringComparison.Ordinal);
        Assert.Equal("restored 512 remote True", RunPeer("restore", fixture.ModelPath, tier, tokens));
    }

    private static string RunPeer(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(typeof(PeerProgram).Assembly.Location);
        psi.ArgumentList.Add("peer");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd().Trim();
        Assert.True(p.WaitForExit(120_000), "peer process did not finish in 120 s");
        Assert.True(p.ExitCode == 0, string.Create(CultureInfo.InvariantCulture, $"peer exited {p.ExitCode}: {err.Result}"));
        return output.Split('\n')[^1].Trim();
    }
}
