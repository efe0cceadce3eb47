using TierKv.Analysis.Replay;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Keys;

namespace TierKv.Analysis.Tests;

/// <summary>Traces at the edges of what is valid: errors name the line, and nothing overflows in replay.</summary>
public class BadTraceTests
{
    [Theory]
    [InlineData("18446744073709551615")]
    [InlineData("99999999999999999999999")]
    public void A_hash_id_beyond_64_bits_is_an_error_naming_its_line(string id)
    {
        string p = TraceFixtures.WriteTemp(
            "{\"timestamp\": 0, \"input_length\": 1024, \"hash_ids\": [1, 2]}",
            $"{{\"timestamp\": 1, \"input_length\": 1024, \"hash_ids\": [1, {id}]}}");
        var ex = Assert.Throws<TraceFormatException>(() => MooncakeTraceReader.ReadFile(p));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains(id, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_reads_a_request_longer_than_one_read_window()
    {
        // 1,100 blocks of 64 KiB are 68.75 MiB, more than one 64 MiB read: the second request's hits come in two reads.
        const int blocks = 1100;
        var b = new RequestTraceBuilder("long", MooncakeTraceReader.BlockTokens);
        var chain = new ChunkKey[blocks];
        for (int i = 0; i < blocks; i++)
        {
            chain[i] = RequestTraceBuilder.KeyOfHashId(i);
        }

        b.Add(0, blocks * 512, 1, 0, chain);
        b.Add(1, blocks * 512, 1, 0, chain);
        var trace = b.Build();

        using var replayer = new TraceReplayer(trace, "lru", blocks, 64 << 10);
        var r = await replayer.RunAsync();

        Assert.Equal(blocks, r.HitBlocks);
        Assert.Equal(PolicySimulator.Run(trace, "lru", blocks).HitBlocks, r.HitBlocks);
    }

    [Fact]
    public async Task Replay_by_timestamp_waits_for_a_timestamp_centuries_away_without_overflowing()
    {
        string p = TraceFixtures.WriteTemp(
            "{\"timestamp\": 0, \"input_length\": 1024, \"hash_ids\": [1, 2]}",
            $"{{\"timestamp\": {MooncakeTraceReader.MaxTimestamp}, \"input_length\": 1024, \"hash_ids\": [1, 3]}}");
        using var replayer = new TraceReplayer(MooncakeTraceReader.ReadFile(p), "lru", 16, 256);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        // It waits (until cancelled) instead of throwing an OverflowException from the delay.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => replayer.RunAsync(speed: 1, cancellationToken: cts.Token));
    }

    [Fact]
    public void Reading_keeps_dense_ids_and_parents_across_the_builders_segments()
    {
        // More blocks than one segment of the builder's columns, and ids seen again after the boundary.
        var b = new RequestTraceBuilder("segments", 16);
        var first = new ChunkKey[40_000];
        for (int i = 0; i < first.Length; i++)
        {
            first[i] = RequestTraceBuilder.KeyOfHashId(i);
        }

        b.Add(0, first.Length * 16, 0, 0, first);
        b.Add(1, 3 * 16, 0, 0, [first[0], first[1], RequestTraceBuilder.KeyOfHashId(-5)]);
        var t = b.Build();

        Assert.Equal(40_001, t.UniqueBlocks);
        Assert.Equal(40_003, t.BlockAccesses);
        Assert.Equal(first[39_999], t.Keys[39_999]);
        Assert.Equal(39_998, t.Parents[39_999]);
        Assert.Equal([0, 1, 40_000], t.BlocksOf(1).ToArray());
        Assert.Equal(1, t.Parents[40_000]);
        Assert.Equal(0, t.ParentConflicts);
        Assert.Throws<InvalidOperationException>(() => b.Build());
    }
}
