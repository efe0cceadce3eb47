using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Tests;

public class MooncakeReaderTests
{
    [Fact]
    public void Malformed_line_error_names_the_line_number()
    {
        string p = TraceFixtures.WriteTemp("{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 1, \"hash_ids\": [0, 1]}", "{\"timestamp\": 1, \"input_length\": 600, oops}");
        var ex = Assert.Throws<TraceFormatException>(() => MooncakeTraceReader.ReadFile(p));
        Assert.Contains("line 2", ex.Message);
    }

    [Theory]
    [InlineData("{\"input_length\": 600, \"hash_ids\": [0, 1]}", "timestamp")]
    [InlineData("{\"timestamp\": 0, \"hash_ids\": [0, 1]}", "input_length")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 600}", "hash_ids")]
    public void Missing_field_is_named(string line, string field)
    {
        string p = TraceFixtures.WriteTemp("{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [5]}", line);
        var ex = Assert.Throws<TraceFormatException>(() => MooncakeTraceReader.ReadFile(p));
        Assert.Contains($"line 2: missing field '{field}'", ex.Message);
    }

    [Fact]
    public void Empty_trace_is_an_error()
    {
        string p = TraceFixtures.WriteTemp(string.Empty, "   ");
        var ex = Assert.Throws<TraceFormatException>(() => MooncakeTraceReader.ReadFile(p));
        Assert.Contains("no requests", ex.Message);
    }

    [Fact]
    public void Hits_are_the_leading_run_of_cached_blocks()
    {
        // Request 2 shares blocks 0 and 2 with request 1 but not block 1: only block 0 counts as a hit.
        string p = TraceFixtures.WriteTemp(
            "{\"timestamp\": 0, \"input_length\": 1536, \"hash_ids\": [0, 1, 2]}",
            "{\"timestamp\": 1, \"input_length\": 1536, \"hash_ids\": [0, 9, 2]}");
        var t = MooncakeTraceReader.ReadFile(p);
        Assert.Equal(1, BeladySimulator.Infinite(t).HitBlocks);
        Assert.Equal(1, PolicySimulator.Run(t, "lru", 10).HitBlocks);
    }
}
