using System.Text;
using System.Text.Json;
using TierKv.Keys;

namespace TierKv.Analysis.Traces;

/// <summary>
/// Reads the Mooncake request trace format (FAST'25 release): one JSON object per line with <c>timestamp</c> (ms),
/// <c>input_length</c>, <c>output_length</c> (optional) and <c>hash_ids</c>, the chained ids of 512-token blocks.
/// Errors name the file and the line.
/// </summary>
public static class MooncakeTraceReader
{
    /// <summary>Tokens per block in Mooncake traces.</summary>
    public const int BlockTokens = 512;

    /// <summary>The largest timestamp accepted, in milliseconds (2^53, where doubles stop being exact).</summary>
    public const double MaxTimestamp = 9007199254740992;

    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    public static RequestTrace ReadFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, Path.GetFileName(path));
    }

    /// <summary>Reads a trace from <paramref name="stream"/>; <paramref name="name"/> appears in errors.</summary>
    public static RequestTrace Read(Stream stream, string name)
    {
        var builder = new RequestTraceBuilder(name, BlockTokens);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var chain = new List<ChunkKey>(256);
        int lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            ParseLine(line, name, lineNo, chain, out long ts, out int input, out int output);
            builder.Add(ts, input, output, 0, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chain));
        }

        if (builder.Count == 0)
        {
            throw new TraceFormatException($"{name}: the trace has no requests.");
        }

        return builder.Build();
    }

    private static void ParseLine(string line, string name, int lineNo, List<ChunkKey> chain, out long timestamp, out int input, out int output)
    {
        chain.Clear();
        long? ts = null;
        int? inLen = null;
        int outLen = 0;
        bool sawIds = false;
        try
        {
            var r = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
            {
                throw Error(name, lineNo, "expected a JSON object");
            }

            while (r.Read() && r.TokenType != JsonTokenType.EndObject)
            {
                string prop = r.GetString() ?? string.Empty;
                r.Read();
                switch (prop)
                {
                    case "timestamp":
                        // Milliseconds from the start, possibly fractional; 2^53 ms is 285,000 years, so anything
                        // beyond is a corrupt value, not a time (and would overflow the arithmetic of replay).
                        ts = r.TokenType == JsonTokenType.Number && r.GetDouble() is >= 0 and <= MaxTimestamp and var t
                            ? (long)t
                            : throw Error(name, lineNo, "'timestamp' must be a number of milliseconds from 0 to 2^53");
                        break;
                    case "input_length":
                        inLen = r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int il) && il >= 0 ? il : throw Error(name, lineNo, "'input_length' must be a non-negative integer");
                        break;
                    case "output_length":
                        outLen = r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int ol) && ol >= 0 ? ol : throw Error(name, lineNo, "'output_length' must be a non-negative integer");
                        break;
                    case "hash_ids":
                        if (r.TokenType != JsonTokenType.StartArray)
                        {
                            throw Error(name, lineNo, "'hash_ids' must be an array of integers");
                        }

                        if (sawIds)
                        {
                            throw Error(name, lineNo, "'hash_ids' appears twice");
                        }

                        sawIds = true;
                        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                        {
                            if (r.TokenType != JsonTokenType.Number)
                            {
                                throw Error(name, lineNo, "'hash_ids' must be an array of integers");
                            }

                            if (!r.TryGetInt64(out long id))
                            {
                                throw Error(name, lineNo, $"hash id {Encoding.UTF8.GetString(r.ValueSpan[..Math.Min(r.ValueSpan.Length, 40)])} is not a 64-bit integer (from -2^63 to 2^63-1)");
                            }

                            chain.Add(RequestTraceBuilder.KeyOfHashId(id));
                        }

                        break;
                    default:
                        r.Skip();
                        break;
                }
            }

            // Anything after the object but white space is an error, not ignored (a line joined to the next, say): reading
            // on makes the reader throw on it (a JsonException, reported below); the branch is for a reader that would not.
            if (r.Read())
            {
                throw Error(name, lineNo, "unexpected content after the JSON object");
            }
        }
        catch (JsonException ex)
        {
            throw new TraceFormatException($"{name} line {lineNo}: not valid JSON ({ex.Message})", ex);
        }

        timestamp = ts ?? throw Error(name, lineNo, "missing field 'timestamp'");
        input = inLen ?? throw Error(name, lineNo, "missing field 'input_length'");
        output = outLen;
        if (!sawIds)
        {
            throw Error(name, lineNo, "missing field 'hash_ids'");
        }
    }

    private static TraceFormatException Error(string name, int lineNo, string what) => new($"{name} line {lineNo}: {what}.");
}
