namespace TierKv.Cli.Output;

/// <summary>
/// A console on standard error, for the progress of commands whose standard output is their result (the JSON of
/// <c>--json</c>, or generated text).
/// </summary>
internal static class ErrorConsole
{
    /// <summary>A Spectre console writing to standard error.</summary>
    public static IAnsiConsole Create() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Writes <paramref name="message"/> in grey (escaped: it is text, not markup).</summary>
    public static void Grey(this IAnsiConsole console, string message) => console.MarkupLineInterpolated($"[grey]{message}[/]");
}
