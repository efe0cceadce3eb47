using TierKv.Keys;

namespace TierKv.Analysis.Traces;

/// <summary>
/// A request trace in memory: per request its arrival time, token counts, tenant and chain of block ids. Block ids are
/// dense (0 to <see cref="UniqueBlocks"/> - 1, in order of first appearance) so simulators index arrays with them; each
/// also has the <see cref="ChunkKey"/> a tier sees for it and the id of its parent block (the previous block of the
/// chain), which is the same wherever the block appears because ids are chained prefix hashes.
/// </summary>
public sealed class RequestTrace
{
    internal RequestTrace(string name, int blockTokens, long[] timestamps, int[] inputTokens, int[] outputTokens, int[] tenants, int[] blockStart, int[] blocks, ChunkKey[] keys, int[] parents, long parentConflicts)
    {
        ParentConflicts = parentConflicts;
        Name = name;
        BlockTokens = blockTokens;
        TimestampsMs = timestamps;
        InputTokens = inputTokens;
        OutputTokens = outputTokens;
        Tenants = tenants;
        BlockStart = blockStart;
        Blocks = blocks;
        Keys = keys;
        Parents = parents;
    }

    /// <summary>
    /// Block accesses whose previous block in the request is not the block's parent where it first appeared (a repeated
    /// id inside a request counts too). Zero for chained prefix hashes, as Mooncake's and TierKV's traces are; otherwise
    /// a block's prefix is ambiguous, prefix hits are computed as if the first parent held, and a prefix-aware policy in
    /// a real tier (<c>replay</c>) may choose differently from the simulator.
    /// </summary>
    public long ParentConflicts { get; }

    /// <summary>Where the trace came from (file name).</summary>
    public string Name { get; }

    /// <summary>Tokens per block (512 for Mooncake traces, the layout's chunk size for TierKV traces).</summary>
    public int BlockTokens { get; }

    /// <summary>Arrival time of each request in milliseconds from the start.</summary>
    public long[] TimestampsMs { get; }

    /// <summary>Input tokens of each request.</summary>
    public int[] InputTokens { get; }

    /// <summary>Output tokens of each request (0 when unknown).</summary>
    public int[] OutputTokens { get; }

    /// <summary>Tenant number of each request (0 when the trace has none).</summary>
    public int[] Tenants { get; }

    /// <summary>Request r's blocks are <c>Blocks[BlockStart[r]..BlockStart[r + 1]]</c>.</summary>
    public int[] BlockStart { get; }

    /// <summary>Dense block ids of all requests, concatenated.</summary>
    public int[] Blocks { get; }

    /// <summary>Chunk key of each dense block id.</summary>
    public ChunkKey[] Keys { get; }

    /// <summary>Dense id of each block's parent, or -1 for the first block of a chain.</summary>
    public int[] Parents { get; }

    /// <summary>Number of requests.</summary>
    public int RequestCount => TimestampsMs.Length;

    /// <summary>Number of block accesses (all blocks of all requests).</summary>
    public int BlockAccesses => Blocks.Length;

    /// <summary>Number of distinct blocks.</summary>
    public int UniqueBlocks => Keys.Length;

    /// <summary>The blocks of request <paramref name="request"/>.</summary>
    public ReadOnlySpan<int> BlocksOf(int request) => Blocks.AsSpan(BlockStart[request], BlockStart[request + 1] - BlockStart[request]);
}
