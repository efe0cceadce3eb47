namespace TierKv.Cli.Flags;

/// <summary>
/// The <c>--json</c> flag every command that reports a result has: print it as one JSON object on standard output
/// (read by scripts and checks) instead of tables. Progress lines go nowhere then, so standard output holds the JSON
/// alone.
/// </summary>
internal abstract class JsonSettings : CommandSettings
{
    /// <summary>Print the result as JSON on standard output.</summary>
    [CommandOption("--json")]
    [Description("Print the result as JSON on standard output.")]
    public bool Json { get; init; }

    /// <summary>The console for progress lines: none with <c>--json</c>.</summary>
    public IAnsiConsole? ProgressConsole() => Json ? null : AnsiConsole.Console;
}
