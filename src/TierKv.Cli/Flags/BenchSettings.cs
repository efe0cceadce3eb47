namespace TierKv.Cli.Flags;

/// <summary>
/// The repetitions of the benches that report medians over seven runs by default (<c>bench dram</c>, <c>remote</c>,
/// <c>gpu</c>); each bench bounds them to what its run time allows.
/// </summary>
internal abstract class BenchSettings : ModelSettings
{
    /// <summary>Timed repetitions.</summary>
    [CommandOption("--reps")]
    [Description("Repetitions; medians are reported.")]
    [DefaultValue(7)]
    public int Reps { get; init; } = 7;

    /// <summary>The rule on <c>--reps</c>, with this bench's limit.</summary>
    protected (bool Fails, string Message) RepsRule(int max) => (Reps < 1 || Reps > max, $"--reps must be in [1, {max}].");
}
