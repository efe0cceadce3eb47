using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Tests;

/// <summary>The shared conversation trace (read once) and small synthetic traces.</summary>
public static class TraceFixtures
{
    private static readonly Lazy<RequestTrace?> Conversation = new(() =>
    {
        // TIERKV_TRACES: the folder holding mooncake/ (CI sets it when the checkout is not beside ../shared).
        if (Environment.GetEnvironmentVariable("TIERKV_TRACES") is { Length: > 0 } traces &&
            Path.Combine(traces, "mooncake", "conversation_trace.jsonl") is var named && File.Exists(named))
        {
            return MooncakeTraceReader.ReadFile(named);
        }

        string? dir = AppContext.BaseDirectory;
        while (dir is not null)
        {
            string p = Path.Combine(dir, "..", "shared", "traces", "mooncake", "conversation_trace.jsonl");
            if (File.Exists(p))
            {
                return MooncakeTraceReader.ReadFile(p);
            }

            dir = Path.GetDirectoryName(dir);
        }

        return null;
    });

    private static readonly Lazy<string> Data = new(() =>
    {
        // The traces are read where they are checked in, not copied into the build output: ../shared/checks/eviction
        // checks every *.jsonl under tests/, and copies in bin/ would be checked twice.
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string p = Path.Combine(dir, "tests", "TierKv.Analysis.Tests", "data");
            if (Directory.Exists(p))
            {
                return p;
            }

            p = Path.Combine(dir, "TierKv.Analysis.Tests", "data");
            if (Directory.Exists(p))
            {
                return p;
            }
        }

        throw new DirectoryNotFoundException($"tests/TierKv.Analysis.Tests/data not found above {AppContext.BaseDirectory}.");
    });

    /// <summary>The checked-in trace folder of this project (data/: mooncake/ and suite/).</summary>
    public static string DataDirectory => Data.Value;

    /// <summary>The Mooncake conversation trace, or null when ../shared/traces is not there.</summary>
    public static RequestTrace? ConversationTrace => Conversation.Value;

    /// <summary>Writes JSONL lines to a temporary file and returns its path.</summary>
    public static string WriteTemp(params string[] lines)
    {
        string p = Path.Combine(Path.GetTempPath(), $"tierkv-trace-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(p, lines);
        return p;
    }

    /// <summary>
    /// A synthetic multi-turn chat trace: sessions that come back after random gaps, each turn extending its history
    /// by new blocks (a partial last block that changes every turn), plus shared system prompts.
    /// </summary>
    public static RequestTrace SyntheticChat(int seed, int requests, int sessions = 400, int prompts = 8)
    {
        var rng = new Random(seed);
        var builder = new RequestTraceBuilder($"synthetic-chat-{seed}", 512);
        var history = new List<long>[sessions];
        var prompt = new int[sessions];
        long nextId = 1_000_000;
        for (int s = 0; s < sessions; s++)
        {
            history[s] = [];
            prompt[s] = rng.Next(prompts);
        }

        var keys = new List<TierKv.Keys.ChunkKey>();
        for (int r = 0; r < requests; r++)
        {
            // Zipf-like session popularity: low numbers come back more often.
            int s = (int)(sessions * Math.Pow(rng.NextDouble(), 2.0));
            var h = history[s];
            if (h.Count > 60 || rng.NextDouble() < 0.05)
            {
                h.Clear();
            }

            keys.Clear();
            keys.Add(RequestTraceBuilder.KeyOfHashId(prompt[s]));
            foreach (long id in h)
            {
                keys.Add(RequestTraceBuilder.KeyOfHashId(id));
            }

            int add = 1 + rng.Next(6);
            for (int i = 0; i < add; i++)
            {
                long id = nextId++;
                keys.Add(RequestTraceBuilder.KeyOfHashId(id));
                if (i < add - 1)
                {
                    h.Add(id); // the last new block is partial: the next turn does not reuse it
                }
            }

            builder.Add(r * 100L, keys.Count * 512, 100, 0, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys));
        }

        return builder.Build();
    }

    /// <summary>
    /// A synthetic document-QA trace: requests read one of <paramref name="documents"/> long shared documents (Zipf
    /// popularity, 4 to 40 blocks) followed by a unique question of 1 to 3 blocks; a slice of one-off scans too.
    /// </summary>
    public static RequestTrace SyntheticDocuments(int seed, int requests, int documents = 300)
    {
        var rng = new Random(seed);
        var builder = new RequestTraceBuilder($"synthetic-docs-{seed}", 512);
        var length = new int[documents];
        for (int d = 0; d < documents; d++)
        {
            length[d] = 4 + rng.Next(37);
        }

        long nextId = 10_000_000;
        var keys = new List<TierKv.Keys.ChunkKey>();
        for (int r = 0; r < requests; r++)
        {
            keys.Clear();
            if (rng.NextDouble() < 0.1)
            {
                int scan = 10 + rng.Next(50);
                for (int i = 0; i < scan; i++)
                {
                    keys.Add(RequestTraceBuilder.KeyOfHashId(nextId++));
                }
            }
            else
            {
                int d = (int)(documents * Math.Pow(rng.NextDouble(), 3.0));
                for (int i = 0; i < length[d]; i++)
                {
                    keys.Add(RequestTraceBuilder.KeyOfHashId((d * 1000L) + i));
                }

                int q = 1 + rng.Next(3);
                for (int i = 0; i < q; i++)
                {
                    keys.Add(RequestTraceBuilder.KeyOfHashId(nextId++));
                }
            }

            builder.Add(r * 50L, keys.Count * 512, 50, 0, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys));
        }

        return builder.Build();
    }
}
