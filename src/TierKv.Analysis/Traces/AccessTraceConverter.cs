using System.Runtime.InteropServices;
using TierKv.Keys;
using TierKv.Tracing;

namespace TierKv.Analysis.Traces;

/// <summary>Turns a TierKV access trace into a <see cref="RequestTrace"/> (one request per recorded lookup).</summary>
public static class AccessTraceConverter
{
    /// <summary>Reads the access trace at <paramref name="path"/>.</summary>
    public static RequestTrace ReadFile(string path)
    {
        string name = Path.GetFileName(path);
        try
        {
            using var reader = AccessTraceReader.Open(path);
            var builder = new RequestTraceBuilder(name, reader.TokensPerChunk);
            var keys = new List<ChunkKey>();
            while (reader.TryRead(out var rec, keys))
            {
                builder.Add(rec.TimeMicros / 1000, rec.Tokens, 0, rec.Tenant, CollectionsMarshal.AsSpan(keys));
            }

            return builder.Count == 0 ? throw new TraceFormatException($"{name}: the trace has no requests.") : builder.Build();
        }
        catch (InvalidDataException ex)
        {
            throw new TraceFormatException(ex.Message, ex);
        }
    }
}
