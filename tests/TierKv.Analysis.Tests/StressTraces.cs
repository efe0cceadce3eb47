using TierKv.Analysis.Traces;
using TierKv.Keys;

namespace TierKv.Analysis.Tests;

/// <summary>
/// Traces built to break a policy that is not LRU in one way or another (docs/analysis.md, "Traces it was not shaped
/// on"): each stresses a different pattern, so the default policy is checked where reuse credits, frequency or
/// recency are wrong.
/// </summary>
public static class StressTraces
{
    /// <summary>Every chain is read twice, the second time soon after the first, then never: recency is right, credit for "seen before" keeps dead chains.</summary>
    public static RequestTrace Twice(int seed, int requests = 20000)
    {
        var rng = new Random(seed);
        var t = new Builder($"stress-twice-{seed}");
        var pending = new List<long[]>();
        for (int r = 0; r < requests; r++)
        {
            if (pending.Count > 0 && rng.Next(2) == 0)
            {
                int j = Math.Max(0, pending.Count - 1 - (int)Exponential(rng, 40));
                t.Add(pending[j]);
                pending.RemoveAt(j);
            }
            else
            {
                var chain = t.New(1 + rng.Next(8));
                t.Add(chain);
                pending.Add(chain);
            }
        }

        return t.Build();
    }

    /// <summary>Popularity that changes wholesale: six phases, each with its own Zipf-popular documents (a frequency-heavy policy keeps the last phase's favourites).</summary>
    public static RequestTrace Phases(int seed, int requestsPerPhase = 4000)
    {
        var rng = new Random(seed);
        var t = new Builder($"stress-phases-{seed}");
        for (int phase = 0; phase < 6; phase++)
        {
            var docs = new long[600][];
            for (int d = 0; d < docs.Length; d++)
            {
                docs[d] = t.New(2 + rng.Next(11));
            }

            for (int r = 0; r < requestsPerPhase; r++)
            {
                var doc = docs[(int)(docs.Length * Math.Pow(rng.NextDouble(), 2.5))];
                t.Add([.. doc, .. t.New(1)]);
            }
        }

        return t.Build();
    }

    /// <summary>A loop over 1,500 documents (70% of requests) between one-off requests: LRU gets nothing below the loop's size.</summary>
    public static RequestTrace Loop(int seed, int requests = 15000)
    {
        var rng = new Random(seed);
        var t = new Builder($"stress-loop-{seed}");
        var docs = new long[1500][];
        for (int d = 0; d < docs.Length; d++)
        {
            docs[d] = t.New(3 + rng.Next(8));
        }

        for (int r = 0; r < requests; r++)
        {
            t.Add(rng.NextDouble() < 0.7 ? docs[r % docs.Length] : t.New(1 + rng.Next(5)));
        }

        return t.Build();
    }

    /// <summary>
    /// Agents: 60 tool prompts of 4 to 30 blocks shared with Zipf popularity, each request adding a few unique blocks;
    /// half the requests continue an earlier one (its history minus the partial tail, plus new blocks).
    /// </summary>
    public static RequestTrace ToolAgent(int seed, int requests = 15000)
    {
        var rng = new Random(seed);
        var t = new Builder($"stress-toolagent-{seed}");
        var tools = new long[60][];
        for (int i = 0; i < tools.Length; i++)
        {
            tools[i] = t.New(4 + rng.Next(27));
        }

        var sessions = new List<long[]>();
        for (int r = 0; r < requests; r++)
        {
            if (sessions.Count > 0 && rng.Next(2) == 0)
            {
                int s = rng.Next(sessions.Count);
                long[] h = [.. sessions[s][..^1], .. t.New(1 + rng.Next(4))];
                t.Add(h);
                if (rng.NextDouble() < 0.2)
                {
                    sessions.RemoveAt(s);
                }
                else
                {
                    sessions[s] = h;
                }
            }
            else
            {
                long[] h = [.. tools[(int)(tools.Length * Math.Pow(rng.NextDouble(), 2.0))], .. t.New(1 + rng.Next(6))];
                t.Add(h);
                if (rng.NextDouble() < 0.4)
                {
                    sessions.Add(h);
                }

                if (sessions.Count > 3000)
                {
                    sessions.RemoveAt(0);
                }
            }
        }

        return t.Build();
    }

    /// <summary>Long unique documents (2 to 110 blocks) and one-block chats; 15% of requests reread a recent document's prefix (Mooncake's synthetic trace looks like this).</summary>
    public static RequestTrace LongDocuments(int seed, int requests = 6000)
    {
        var rng = new Random(seed);
        var t = new Builder($"stress-longdocs-{seed}");
        var recent = new List<long[]>();
        for (int r = 0; r < requests; r++)
        {
            double u = rng.NextDouble();
            if (u < 0.35)
            {
                t.Add(t.New(1));
            }
            else if (u < 0.5 && recent.Count > 0)
            {
                var doc = recent[Math.Max(0, recent.Count - 1 - (int)Exponential(rng, 30))];
                int cut = (doc.Length / 2) + rng.Next((doc.Length / 2) + 1);
                long[] h = [.. doc[..Math.Max(1, cut)], .. t.New(rng.Next(4))];
                t.Add(h);
                recent.Add(h);
            }
            else
            {
                var doc = t.New(2 + rng.Next(109));
                t.Add(doc);
                recent.Add(doc);
            }
        }

        return t.Build();
    }

    private static double Exponential(Random rng, double mean) => -Math.Log(1 - rng.NextDouble()) * mean;

    private sealed class Builder(string name)
    {
        private readonly RequestTraceBuilder _builder = new(name, 512);
        private readonly List<ChunkKey> _keys = [];
        private long _next = 1;
        private int _requests;

        public long[] New(int blocks)
        {
            var ids = new long[blocks];
            for (int i = 0; i < blocks; i++)
            {
                ids[i] = _next++;
            }

            return ids;
        }

        public void Add(long[] ids)
        {
            _keys.Clear();
            foreach (long id in ids)
            {
                _keys.Add(RequestTraceBuilder.KeyOfHashId(id));
            }

            _builder.Add(_requests++ * 10L, (ids.Length * 512) - 100, 100, 0, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_keys));
        }

        public RequestTrace Build() => _builder.Build();
    }
}
