using TierKv.Tracing;

namespace TierKv.Cli.Flags;

/// <summary>
/// What both chat demos (<c>demo</c> on the engine, <c>demo-synthetic</c> on the store alone) take besides their
/// sizes: the workload's seed and the access trace to record. Users, turns and prompt sizes are theirs: the two
/// workloads differ in scale, so in defaults and limits.
/// </summary>
internal abstract class ChatWorkloadSettings : JsonSettings
{
    /// <summary>Seed of the chat workload.</summary>
    [CommandOption("--seed")]
    [Description("Seed of the chat workload (same seed, same tokens).")]
    [DefaultValue(1)]
    public int Seed { get; init; } = 1;

    /// <summary>File to record TierKV's access trace into; null for none.</summary>
    [CommandOption("--record-trace <FILE>")]
    [Description("Record TierKV's access trace (chunk keys, tenant, tokens, time; no token contents) for `tierkv analyze`.")]
    public string? RecordTrace { get; init; }

    /// <summary>The access trace writer of <c>--record-trace</c>, or null when not asked for.</summary>
    public AccessTraceWriter? OpenTrace(int tokensPerChunk) => RecordTrace is { } path ? AccessTraceWriter.Create(path, tokensPerChunk) : null;

    /// <summary>The rule on <c>--users</c> and <c>--turns</c>, with this workload's limits.</summary>
    protected static (bool Fails, string Message) UsersAndTurns(int users, int maxUsers, int turns, int maxTurns) =>
        (users < 1 || users > maxUsers || turns < 1 || turns > maxTurns, $"--users must be in [1, {maxUsers}] and --turns in [1, {maxTurns}].");
}
