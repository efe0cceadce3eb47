using TierKv.Analysis.Traces;
using TierKv.Tiers;

namespace TierKv.Cli.Flags;

/// <summary>The trace file that <c>analyze</c> and <c>replay</c> read, and the model shape that prices it.</summary>
internal abstract class TraceSettings : ModelSettings
{
    /// <summary>Path of the trace file.</summary>
    [CommandArgument(0, "<TRACE>")]
    [Description("Trace file: Mooncake JSONL (hash_ids of 512-token blocks) or a TierKV access trace (--record-trace).")]
    public string Trace { get; init; } = string.Empty;

    /// <summary>Reads the trace; warns on standard error when its block ids are not chained prefix hashes.</summary>
    public RequestTrace ReadTrace()
    {
        var trace = TraceFiles.Read(Trace);
        TraceWarnings.Print(trace);
        return trace;
    }

    /// <summary>The largest synthetic block a replay stores: 64 MiB, far above any model's chunk.</summary>
    internal const int MaxChunkBytes = 64 << 20;

    /// <summary>The rule on a replay's <c>--chunk-bytes</c> (synthetic payload bytes per block).</summary>
    protected static (bool Fails, string Message) ChunkBytesRule(int chunkBytes) =>
        (chunkBytes is < 256 or > MaxChunkBytes || chunkBytes % 256 != 0, $"--chunk-bytes must be a multiple of 256 in [256, {MaxChunkBytes}]; got {chunkBytes}.");

    /// <summary>The DRAM slot a block of <paramref name="chunkBytes"/> takes: its bytes rounded up to the tier's page.</summary>
    protected static long SlotBytes(int chunkBytes) => new HostMemoryTierOptions { SlotBytes = chunkBytes }.AlignedSlotBytes;
}
