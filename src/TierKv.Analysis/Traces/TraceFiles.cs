using TierKv.Tracing;

namespace TierKv.Analysis.Traces;

/// <summary>Opens a trace file of either supported format: TierKV's own access trace (by its magic) or Mooncake JSONL.</summary>
public static class TraceFiles
{
    /// <summary>Reads the trace at <paramref name="path"/>; throws <see cref="TraceFormatException"/> or <see cref="FileNotFoundException"/>.</summary>
    public static RequestTrace Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Trace file '{path}' does not exist.", path);
        }

        return AccessTraceReader.IsAccessTrace(path) ? AccessTraceConverter.ReadFile(path) : MooncakeTraceReader.ReadFile(path);
    }
}
