using System.Text.Encodings.Web;
using System.Text.Json;

namespace TierKv.Cli;

/// <summary>Writes a command's JSON result to standard output, and nothing else there.</summary>
internal static class JsonOutput
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(JsonNode node) => Console.Out.WriteLine(node.ToJsonString(Options));

    /// <summary>Rounds for display without losing meaningful digits.</summary>
    public static double Round(double v, int digits = 3) => double.IsFinite(v) ? Math.Round(v, digits) : 0;
}
