namespace TierKv.Analysis.Traces;

/// <summary>A trace file that cannot be read; the message names the file, the line and what is wrong.</summary>
public sealed class TraceFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public TraceFormatException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
