using TierKv.Analysis.Report;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Keys;
using TierKv.Tracing;

namespace TierKv.Analysis.Tests;

public class AnalysisTests
{
    [Fact]
    public void Reuse_distance_counts_distinct_blocks_between_accesses()
    {
        // Accesses: A B C A B B -> A after {B, C}: 2; B after {C, A}: 2; B right after B: 0.
        string p = TraceFixtures.WriteTemp(
            "{\"timestamp\": 0, \"input_length\": 1536, \"hash_ids\": [1, 2, 3]}",
            "{\"timestamp\": 1, \"input_length\": 1024, \"hash_ids\": [1, 2]}",
            "{\"timestamp\": 2, \"input_length\": 512, \"hash_ids\": [2]}");
        var profile = ReuseProfile.Compute(MooncakeTraceReader.ReadFile(p));
        Assert.Equal(3, profile.FirstAccesses);
        Assert.Equal(3, profile.Reuses);
        Assert.Equal(1, profile.BucketCounts[0]); // distance 0
        Assert.Equal(2, profile.BucketCounts[1]); // distances 1..2
    }

    [Fact]
    public void Belady_is_an_upper_bound_of_every_policy_and_infinite_of_belady()
    {
        var trace = TraceFixtures.SyntheticChat(11, 1500, sessions: 80);
        foreach (int cap in new[] { 20, 100, 400 })
        {
            double min = BeladySimulator.Run(trace, cap).HitRatio;
            Assert.True(min <= BeladySimulator.Infinite(trace).HitRatio);
            foreach (string p in new[] { "lru", "s3fifo", "arc", "alfu", "lru-prefix", "alfu-prefix" })
            {
                Assert.True(PolicySimulator.Run(trace, p, cap).HitRatio <= min, $"{p} beats MIN at {cap}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sizing_targets_grow_with_the_fraction_and_reach_it(bool withCurvePoints)
    {
        var trace = TraceFixtures.SyntheticChat(4, 2000, sessions: 100);
        double attainable = BeladySimulator.Infinite(trace).HitRatio;
        // As analyze calls it: the capacities its curves already simulated are reused, not rerun.
        var known = withCurvePoints ? new[] { 50, 200, 1000 }.ToDictionary(c => c, c => PolicySimulator.Run(trace, "lru", c).HitRatio) : null;
        var rec = SizingRecommendation.Compute(trace, "lru", ModelShapes.Get("llama3-8b"), attainable, known);
        Assert.Equal(3, rec.Targets.Count);
        for (int i = 0; i < 3; i++)
        {
            var t = rec.Targets[i];
            Assert.True(t.HitRatio >= t.Fraction * attainable, $"target {t.Fraction}: {t.HitRatio}");
            Assert.Equal(PolicySimulator.Run(trace, "lru", t.Blocks).HitRatio, t.HitRatio);
            Assert.Equal((long)t.Blocks * 512 * 128 * 1024, t.Bytes);
            if (i > 0)
            {
                Assert.True(t.Blocks >= rec.Targets[i - 1].Blocks);
            }
        }
    }

    [Fact]
    public void Report_is_one_self_contained_page_with_plots_and_the_default_policy()
    {
        var trace = TraceFixtures.SyntheticChat(2, 600, sessions: 40);
        var a = TraceAnalysis.Run(trace, ["lru", "belady"], [50, 200], ModelShapes.Get("llama3-8b"), "alfu");
        string dir = Path.Combine(Path.GetTempPath(), $"tierkv-report-{Guid.NewGuid():N}");
        try
        {
            string html = File.ReadAllText(HtmlReport.Write(a, dir));
            Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, "<svg").Count);
            Assert.Contains("alfu (default)", html);
            Assert.DoesNotContain("<script", html);
            Assert.DoesNotContain("src=", html);
            var json = a.ToJson();
            Assert.Equal("alfu", (string?)json["default_policy"]);
            Assert.Equal(6, json["curves"]!.AsArray().Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Truncated_access_trace_is_reported_with_the_record_number()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tierkv-{Guid.NewGuid():N}.trace");
        try
        {
            using (var w = AccessTraceWriter.Create(path, 256))
            {
                w.Record(0, 1, 512, [new ChunkKey(1), new ChunkKey(2)]);
                w.Record(5, 1, 256, [new ChunkKey(1)]);
            }

            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^4]);
            var ex = Assert.Throws<TraceFormatException>(() => TraceFiles.Read(path));
            Assert.Contains("record 2", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
