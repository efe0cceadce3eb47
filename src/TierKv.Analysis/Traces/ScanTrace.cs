using TierKv.Keys;

namespace TierKv.Analysis.Traces;

/// <summary>A scanning tenant: requests of blocks that are never used again (a batch job reading documents once).</summary>
public static class ScanTrace
{
    /// <summary>One request of <paramref name="blocksPerRequest"/> new blocks at each request time of <paramref name="beside"/>.</summary>
    public static RequestTrace Beside(RequestTrace beside, int blocksPerRequest)
    {
        ArgumentNullException.ThrowIfNull(beside);
        ArgumentOutOfRangeException.ThrowIfLessThan(blocksPerRequest, 1);
        var builder = new RequestTraceBuilder("scan", beside.BlockTokens);
        var chain = new ChunkKey[blocksPerRequest];
        long next = 0;
        for (int r = 0; r < beside.RequestCount; r++)
        {
            for (int i = 0; i < chain.Length; i++)
            {
                chain[i] = RequestTraceBuilder.KeyOfHashId(next++);
            }

            builder.Add(beside.TimestampsMs[r], blocksPerRequest * beside.BlockTokens, 0, 0, chain);
        }

        return builder.Build();
    }
}
