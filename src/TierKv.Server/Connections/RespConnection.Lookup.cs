using System.Runtime.InteropServices;

namespace TierKv.Server.Connections;

/// <summary>KV.LOOKUP: the longest cached prefix of a request, by chunk keys or by token ids.</summary>
internal sealed partial class RespConnection
{
    /// <summary><c>KV.LOOKUP KEYS k1 .. kn</c> (leading chunks held) or <c>KV.LOOKUP TOKENS blob</c> (leading tokens held).</summary>
    private ValueTask<bool> Lookup(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("kv.lookup");
        }

        var tenant = _tenant!;
        var layout = _server.Tenants.Layout;
        long t0 = Stopwatch.GetTimestamp();
        var mode = Arg(src, _args[1]);
        if (Ascii.EqualsIgnoreCase(mode, "KEYS"u8))
        {
            int n = argc - 2;
            if (!ScopeKeys(src, 2, n, out var keys, out int bad))
            {
                return Fail(Replies.LookupBadKey(bad + 1));
            }

            int chunks = tenant.Values.LookupChunks(layout, keys);
            _out.Integer(chunks);
            RecordLookup(tenant, (long)n * layout.TokensPerChunk, t0);
            _server.Trace?.Record(tenant.Index, n * layout.TokensPerChunk, keys);
            return True;
        }

        if (Ascii.EqualsIgnoreCase(mode, "TOKENS"u8) && argc == 3)
        {
            var blob = Arg(src, _args[2]);
            if (blob.Length % 4 != 0)
            {
                return Fail(Replies.LookupTokensBlob);
            }

            var tokenIds = MemoryMarshal.Cast<byte, int>(blob);
            int n = PrefixHasher.FullChunks(layout, tokenIds.Length);
            var keys = _keys is { } have && have.Length >= n ? have : (_keys = new ChunkKey[Math.Max(n, _limits.MaxArrayLength)]);
            PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokenIds, keys);
            for (int i = 0; i < n; i++)
            {
                keys[i] = tenant.Scope(keys[i]);
            }

            int hit = tenant.Values.LookupChunks(layout, keys.AsSpan(0, n)) * layout.TokensPerChunk;
            _out.Integer(hit);
            RecordLookup(tenant, tokenIds.Length, t0);
            _server.Trace?.Record(tenant.Index, tokenIds.Length, keys.AsSpan(0, n));
            return True;
        }

        return Fail(Replies.LookupSyntax);
    }

    private static void RecordLookup(Tenants.Tenant tenant, long requestedTokens, long t0)
    {
        tenant.Stats.RecordLookup(requestedTokens, (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
    }
}
