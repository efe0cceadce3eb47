namespace TierKv.LlamaSharp.Session;

/// <summary>
/// The parts of one restore: looking up, planning and fetching the chunks (leases on DRAM, reads below it), assembling
/// the state blob, and llama.cpp reading it (<c>llama_state_seq_set_data</c>), in seconds.
/// </summary>
public sealed record RestorePhases(double FetchSeconds, double AssembleSeconds, double SetStateSeconds);
