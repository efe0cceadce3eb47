namespace TierKv.LlamaSharp.Session;

/// <summary>
/// The parts of one restore: looking up, planning and fetching the chunks (leases on DRAM, reads below it), assembling
/// state blobs, and llama.cpp reading them (<c>llama_state_seq_set_data</c>), in seconds.
/// </summary>
public sealed record RestorePhases(double FetchSeconds, double AssembleSeconds, double SetStateSeconds)
{
    /// <summary>
    /// Sharing each group's cells from the scratch sequence with the target and emptying the scratch sequence
    /// (<c>llama_memory_seq_cp</c>, <c>llama_memory_seq_rm</c>); 0 without a scratch sequence.
    /// </summary>
    public double ShareSeconds { get; init; }
}
