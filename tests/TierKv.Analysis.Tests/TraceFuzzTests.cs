using System.Text;
using CsCheck;
using TierKv.Analysis.Replay;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Eviction;
using TierKv.Keys;
using TierKv.Tracing;

namespace TierKv.Analysis.Tests;

/// <summary>
/// Fuzzing of the trace readers (damaged input is read or rejected with an error naming where, never another
/// exception) and of the simulators and the real tier on odd but readable traces.
/// </summary>
public class TraceFuzzTests
{
    private const string Valid = "{\"timestamp\": 12, \"input_length\": 1100, \"output_length\": 7, \"hash_ids\": [0, 17, 42]}";

    // Characters a damaged JSON line is made of: structure, digits, signs and exponents, letters, quotes, controls.
    private const string Alphabet = "{}[]:,\" 0123456789-+.eE tfalsnuhimdpx_\\\t\u0001\u00e9";

    [Fact]
    public void Damaged_mooncake_lines_are_read_or_rejected_naming_the_line()
    {
        var edit = Gen.Select(Gen.Int[0, 3], Gen.Int[0, Valid.Length], Gen.Int[0, Alphabet.Length - 1]);
        edit.Array[1, 5].Sample(edits =>
        {
            var sb = new StringBuilder(Valid);
            foreach (var (kind, at, c) in edits)
            {
                int p = Math.Min(at, sb.Length);
                switch (kind)
                {
                    case 0 when p < sb.Length:
                        sb[p] = Alphabet[c];
                        break;
                    case 1:
                        sb.Insert(p, Alphabet[c]);
                        break;
                    case 2 when p < sb.Length:
                        sb.Remove(p, 1);
                        break;
                    case 3:
                        sb.Length = p;
                        break;
                }
            }

            AssertReadOrRejected(Valid, sb.ToString());
        }, iter: 2000);
    }

    [Theory]
    [InlineData("{\"timestamp\": 1e400, \"input_length\": 5, \"hash_ids\": [1]}")]
    [InlineData("{\"timestamp\": 1e300, \"input_length\": 5, \"hash_ids\": [1]}")]
    [InlineData("{\"timestamp\": -1, \"input_length\": 5, \"hash_ids\": [1]}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [1]} {\"timestamp\": 1}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [1]} trailing")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 1e10, \"hash_ids\": [1]}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [1.5]}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [99999999999999999999]}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [[1]]}")]
    [InlineData("[1, 2]")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [1], \"hash_ids\": [2]}")]
    [InlineData("{\"timestamp\": 0, \"input_length\": 5, \"hash_ids\": [1]")]
    public void Out_of_range_or_joined_values_are_rejected_naming_the_line(string line)
    {
        string p = TraceFixtures.WriteTemp(Valid, line);
        try
        {
            var ex = Assert.Throws<TraceFormatException>(() => MooncakeTraceReader.ReadFile(p));
            Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(p);
        }
    }

    [Fact]
    public void Damaged_access_traces_are_read_or_rejected_naming_the_record()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tierkv-fuzz-{Guid.NewGuid():N}.trace");
        try
        {
            var layout = ModelShapes.Llama3_8B.Layout;
            using (var w = AccessTraceWriter.Create(path, layout.TokensPerChunk))
            {
                for (int r = 0; r < 6; r++)
                {
                    var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, Enumerable.Range(r, (1 + r) * layout.TokensPerChunk).ToArray());
                    w.Record(r * 1000L, r % 2, (1 + r) * layout.TokensPerChunk, keys);
                }
            }

            byte[] good = File.ReadAllBytes(path);
            var damage = Gen.Select(Gen.Int[0, 2], Gen.Int[0, good.Length - 1], Gen.Byte);
            damage.Array[1, 4].Sample(edits =>
            {
                byte[] bytes = (byte[])good.Clone();
                int length = bytes.Length;
                foreach (var (kind, at, b) in edits)
                {
                    if (kind == 2)
                    {
                        length = Math.Min(length, at);
                    }
                    else if (at < length)
                    {
                        bytes[at] = kind == 0 ? b : (byte)(bytes[at] ^ (1 << (b & 7)));
                    }
                }

                // CsCheck runs samples on several threads: a file of its own for each.
                string damaged = $"{path}.{Guid.NewGuid():N}.damaged";
                File.WriteAllBytes(damaged, bytes.AsSpan(0, length).ToArray());
                try
                {
                    var t = TraceFiles.Read(damaged);
                    Assert.InRange(t.RequestCount, 1, 6);
                }
                catch (TraceFormatException ex)
                {
                    Assert.Contains(Path.GetFileName(damaged), ex.Message, StringComparison.Ordinal);
                }
                finally
                {
                    File.Delete(damaged);
                }
            }, iter: 1000);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Requests over a few ids, repeats and reordered chains included (ids that are not prefix hashes).</summary>
    private static readonly Gen<int[][]> OddTraces = Gen.Int[0, 9].Array[0, 7].Array[1, 40];

    /// <summary>Chained traces (ids are prefix hashes): each request keeps a prefix of an earlier one and adds new ids.</summary>
    private static readonly Gen<int[][]> ChainedTraces = Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 8], Gen.Int[0, 5]).Array[1, 40].Select(spec =>
    {
        var requests = new List<int[]>();
        int next = 0;
        foreach (var (from, keep, add) in spec)
        {
            int[] prefix = requests.Count == 0 ? [] : requests[from % requests.Count];
            requests.Add([.. prefix.Take(keep), .. Enumerable.Range(next, add)]);
            next += add;
        }

        return requests.ToArray();
    });

    private static RequestTrace Build(int[][] requests)
    {
        var b = new RequestTraceBuilder("fuzz", 16);
        var chain = new List<ChunkKey>();
        for (int r = 0; r < requests.Length; r++)
        {
            chain.Clear();
            chain.AddRange(requests[r].Select(id => RequestTraceBuilder.KeyOfHashId(id)));
            b.Add(r, requests[r].Length * 16, 0, 0, chain.ToArray());
        }

        return b.Build();
    }

    [Fact]
    public void Every_policy_simulates_odd_traces_within_the_infinite_cache()
    {
        string[] policies = [.. EvictionPolicies.BaseNames.SelectMany(n => new[] { n, n + "-prefix" })];
        Gen.Select(OddTraces, Gen.Int[1, 12]).Sample((requests, capacity) =>
        {
            var trace = Build(requests);
            long infinite = BeladySimulator.Infinite(trace).HitBlocks;
            long min = BeladySimulator.Run(trace, capacity).HitBlocks;
            Assert.InRange(min, 0, infinite);
            foreach (string p in policies)
            {
                var r = PolicySimulator.Run(trace, p, capacity);
                Assert.Equal(trace.BlockAccesses, r.Blocks);
                Assert.InRange(r.HitBlocks, 0, infinite);
            }
        }, iter: 300);
    }

    [Fact]
    public async Task Replay_through_the_real_tier_equals_the_simulator_on_random_chained_traces()
    {
        foreach (string policy in new[] { "lru", "leader", "s3fifo", "arc", "alfu", "lc", "lru-prefix", "leader-prefix", "lc-prefix", "hedge" })
        {
            await Gen.Select(ChainedTraces, Gen.Int[1, 12]).SampleAsync(async (requests, capacity) =>
            {
                var trace = Build(requests);
                Assert.Equal(0, trace.ParentConflicts);
                var sim = PolicySimulator.Run(trace, policy, capacity);
                using var replayer = new TraceReplayer(trace, policy, capacity, 256);
                var rep = await replayer.RunAsync();
                Assert.True(sim.HitBlocks == rep.HitBlocks && sim.Blocks == rep.Blocks, $"{policy} at {capacity}: simulator {sim.HitBlocks}/{sim.Blocks}, replay {rep.HitBlocks}/{rep.Blocks}; requests {string.Join(" ", requests.Select(r => "[" + string.Join(",", r) + "]"))}");
            }, iter: 60);
        }
    }

    [Fact]
    public void Ids_that_are_not_prefix_hashes_are_counted()
    {
        // 5 first follows nothing, then 5 (a repeat), then 1; 1 first follows 5, then nothing.
        var trace = Build([[5, 5, 1], [1, 5]]);
        Assert.Equal(3, trace.ParentConflicts);
        Assert.Equal(0, Build([[5, 6, 7], [5, 6], [5, 8]]).ParentConflicts);
    }

    private static void AssertReadOrRejected(string first, string second)
    {
        string p = TraceFixtures.WriteTemp(first, second);
        try
        {
            var t = MooncakeTraceReader.ReadFile(p);
            Assert.InRange(t.RequestCount, 1, 2);
        }
        catch (TraceFormatException ex)
        {
            Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(p);
        }
    }
}
