using System.Globalization;
using LLama;
using LLama.Native;
using TierKv.Engine.Planning;
using TierKv.Keys;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.Session;
using TierKv.Nvme;
using TierKv.Remote;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.LlamaSharp.Tests;

/// <summary>
/// The other OS processes of the cross-process tests: <c>dotnet TierKv.LlamaSharp.Tests.dll peer save|restore MODEL
/// TIER TOKENS-FILE</c>, where TIER is <c>ssd:DIR</c> or <c>remote:PREFIX:HOST:PORT,...</c>. <c>save</c> decodes a
/// first turn, stores its chunks and writes the sequence's tokens to TOKENS-FILE; <c>restore</c> restores a follow-up
/// prompt from the tier and prints <c>restored TOKENS TIER EQUAL</c>, where EQUAL says whether the logits match
/// llama.cpp's own cache bit for bit (computed in the same process).
/// </summary>
public static class PeerProgram
{
    private static readonly LLamaSeqId Seq = (LLamaSeqId)0;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 5 || args[0] != "peer" || args[1] is not ("save" or "restore"))
        {
            await Console.Error.WriteLineAsync("usage: peer save|restore MODEL ssd:DIR|remote:PREFIX:ENDPOINTS TOKENS-FILE");
            return 2;
        }

        LlamaRuntime.Configure();
        string modelPath = args[2];
        using var weights = LLamaWeights.LoadFromFile(TinyModelFixture.Params(modelPath));
        using var ctx = weights.CreateContext(TinyModelFixture.Params(modelPath));
        var model = LlamaModelFile.Open(modelPath, Path.GetDirectoryName(modelPath));
        var layout = LlamaKvConnector.LayoutOf(model, KvElementType.Float16);
        using var store = OpenStore(args[3], layout);
        using var conn = new LlamaKvConnector(ctx.NativeHandle, model, store, Seq, log: m => Console.Error.WriteLine(m));
        if (conn.Codec is null)
        {
            await Console.Error.WriteLineAsync("cache off: " + conn.Disabled);
            return 3;
        }

        conn.Planner.ObservePrefill(1000, 0, 1000);
        conn.Planner.LearnPrefillSpeed = false;
        if (args[1] == "save")
        {
            int[] history = await LlamaTurns.FirstTurnAsync(ctx, conn, 600);
            await store.PersistAsync();
            await File.WriteAllTextAsync(args[4], string.Join(',', history));
            Console.WriteLine($"saved {history.Length}");
            return 0;
        }

        // The planner loads from a tier once it knows its speed, as a long-running engine would have measured it.
        await TierCalibration.MeasureAsync(store.Tiers[1], layout, conn.Planner);
        int[] follow = [.. File.ReadAllText(args[4]).Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)), .. TinyModelFixture.Tokens(ctx, 30, seed: 5)];
        var (restore, logits) = LlamaTurns.Cached(ctx, conn, follow);
        var reference = LlamaTurns.Reference(ctx, follow, restore.RestoredTokens);
        string tier = string.Join('+', restore.ServedTokens.Keys.Order(StringComparer.Ordinal));
        Console.WriteLine($"restored {restore.RestoredTokens} {tier} {logits.AsSpan().SequenceEqual(reference)}");
        await Console.Error.WriteLineAsync($"hit {restore.HitTokens}, plan: {restore.Reason}");
        return 0;
    }

    private static TieredStore OpenStore(string tier, KvLayout layout)
    {
        if (tier.StartsWith("ssd:", StringComparison.Ordinal))
        {
            return TierStackBuilder.Build(new TierStackOptions
            {
                DataDirectory = tier[4..],
                DramCapacityBytes = 64L * layout.ChunkBytes,
                SsdCapacityBytes = 64L << 20,
                ChunkBytes = layout.ChunkBytes,
                Log = _ => { },
            });
        }

        // remote:PREFIX:ENDPOINTS: a DRAM tier of its own and the shared cluster.
        var parts = tier.Split(':', 3);
        var remote = RedisTier.Connect(new RemoteTierOptions
        {
            Endpoints = RemoteTierOptions.FromEndpoints(parts[2]).Endpoints,
            KeyPrefix = parts[1],
            LookupTimeout = TimeSpan.FromSeconds(2),
            LookupBudget = TimeSpan.FromSeconds(5),
            ValueTimeout = TimeSpan.FromSeconds(10),
        });
        var dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 64L * layout.ChunkBytes, SlotBytes = layout.ChunkBytes });
        return new TieredStore([dram, remote]);
    }
}
