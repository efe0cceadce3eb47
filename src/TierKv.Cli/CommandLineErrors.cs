using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace TierKv.Cli;

/// <summary>
/// Runs the command app and turns an error the user can cause (a bad flag or value, a bad file, a server that is not
/// there) into one line on standard error and an exit code: 2 for bad input (the command line, a configuration,
/// certificate or trace file), 1 for a failure of the environment (connection refused, a port in use, I/O). Any other
/// exception is a bug and keeps its stack trace.
/// </summary>
internal static partial class CommandLineErrors
{
    /// <summary>Exit code of a bad command line or input file.</summary>
    public const int BadInput = 2;

    /// <summary>Exit code of a failure of the environment (network, file system).</summary>
    public const int Failed = 1;

    /// <summary>Runs <paramref name="app"/> with <paramref name="args"/>; returns its exit code.</summary>
    public static async Task<int> RunAsync(CommandApp app, string[] args)
    {
        try
        {
            return await app.RunAsync(args).ConfigureAwait(false);
        }
        catch (Exception ex) when (ExitCodeOf(ex) is int code)
        {
            await Console.Error.WriteLineAsync($"tierkv: {Describe(ex, args)}").ConfigureAwait(false);
            return code;
        }
    }

    /// <summary>The exit code for a user error, or null for a bug.</summary>
    internal static int? ExitCodeOf(Exception ex) => ex switch
    {
        // The host wraps a failure of a hosted service (the listener's bind) in an AggregateException.
        AggregateException { InnerExceptions.Count: 1 } a => ExitCodeOf(a.InnerException!),
        ArgumentNullException => null, // nothing the user types is null: a bug
        CommandAppException or ArgumentException or FormatException or InvalidDataException => BadInput,
        SocketException or IOException or UnauthorizedAccessException or InvalidOperationException => Failed,
        _ => null,
    };

    /// <summary>The message of <paramref name="ex"/> on one line; a value Spectre could not convert is named by its flag.</summary>
    internal static string Describe(Exception ex, IReadOnlyList<string> args)
    {
        if (ex is AggregateException { InnerExceptions.Count: 1 } a)
        {
            return Describe(a.InnerException!, args);
        }

        if (ex is CommandRuntimeException && ConversionFailure().Match(ex.Message) is { Success: true } m)
        {
            return UnparsableValue(m.Groups["value"].Value, ex.InnerException?.Message ?? ex.Message, args) ?? OneLine(ex.Message);
        }

        if (ex is CommandParseException && UnknownOption().Match(ex.Message) is { Success: true } u)
        {
            // Spectre names the option without its dashes ('dta'); name it as typed.
            string name = u.Groups["name"].Value;
            string typed = args.Select(a => a.Split('=')[0]).FirstOrDefault(a => a.StartsWith('-') && a.TrimStart('-') == name) ?? name;
            return $"unknown option '{typed}' (the command's --help lists its options).";
        }

        // "(Parameter 'name')" names a C# parameter, which means nothing to the user; the message names the flag.
        return OneLine(ex is ArgumentException { ParamName: { } p } ? ex.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : ex.Message);
    }

    /// <summary>
    /// Spectre reports a value it cannot convert without the flag (<c>Failed to convert 'abc' to Int32.</c>): find the
    /// flag that was given that value, and say what it expects. Null when the value is not on the command line.
    /// </summary>
    private static string? UnparsableValue(string value, string detail, IReadOnlyList<string> args)
    {
        string expected = detail.Contains("Int32", StringComparison.Ordinal) || detail.Contains("Int64", StringComparison.Ordinal) ? "a whole number"
            : detail.Contains("Double", StringComparison.Ordinal) || detail.Contains("Single", StringComparison.Ordinal) ? "a number"
            : detail.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a valid value";
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a.StartsWith('-') && a.EndsWith("=" + value, StringComparison.Ordinal))
            {
                return $"{a[..a.IndexOf('=', StringComparison.Ordinal)]} expects {expected}, not '{value}'.";
            }

            if (i > 0 && a == value && args[i - 1].StartsWith('-'))
            {
                return $"{args[i - 1]} expects {expected}, not '{value}'.";
            }
        }

        // A flag at the end without its value: Spectre converts a placeholder of its own instead.
        return args.Count > 0 && args[^1].StartsWith("--", StringComparison.Ordinal) ? $"{args[^1]} expects {expected}, but no value follows it." : null;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    [GeneratedRegex("^Unknown option '(?<name>[^']*)'")]
    private static partial Regex UnknownOption();

    [GeneratedRegex("^Failed to convert '(?<value>.*)' to ", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();
}
