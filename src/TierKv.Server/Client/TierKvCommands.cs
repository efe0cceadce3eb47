using System.Globalization;

namespace TierKv.Server.Client;

/// <summary>
/// The commands both clients send, written into a <see cref="RespRequestWriter"/>. A command whose last argument is a
/// value (SET, KV.PUT, KV.LOOKUP TOKENS) is written without it: the caller sends it with the writer's SendLast.
/// Replies that need more than the reader's parsing are shaped here too.
/// </summary>
internal static class TierKvCommands
{
    public static void Ping(RespRequestWriter w)
    {
        w.Begin(1);
        w.Arg("PING"u8);
    }

    public static void Auth(RespRequestWriter w, string token, string? user)
    {
        w.Begin(user is null ? 2 : 3);
        w.Arg("AUTH"u8);
        if (user is not null)
        {
            w.ArgText(user);
        }

        w.ArgText(token);
    }

    /// <summary><c>SET name</c>; the value follows.</summary>
    public static void Set(RespRequestWriter w, ReadOnlySpan<byte> name) => Named(w, 3, "SET"u8, name);

    public static void Get(RespRequestWriter w, ReadOnlySpan<byte> name) => Named(w, 2, "GET"u8, name);

    /// <summary><c>KV.PUT key [PARENT parent]</c>; the value follows.</summary>
    public static void Put(RespRequestWriter w, in ChunkKey key, ChunkKey? parent)
    {
        w.Begin(parent is null ? 3 : 5);
        w.Arg("KV.PUT"u8);
        w.ArgKey(key);
        if (parent is { } pk)
        {
            w.Arg("PARENT"u8);
            w.ArgKey(pk);
        }
    }

    public static void GetChunk(RespRequestWriter w, in ChunkKey key)
    {
        w.Begin(2);
        w.Arg("KV.GET"u8);
        w.ArgKey(key);
    }

    public static void Lookup(RespRequestWriter w, ReadOnlySpan<ChunkKey> keys)
    {
        w.Begin(keys.Length + 2);
        w.Arg("KV.LOOKUP"u8);
        w.Arg("KEYS"u8);
        w.ArgKeys(keys);
    }

    /// <summary><c>KV.LOOKUP TOKENS</c>; the tokens follow.</summary>
    public static void LookupTokens(RespRequestWriter w)
    {
        w.Begin(3);
        w.Arg("KV.LOOKUP"u8);
        w.Arg("TOKENS"u8);
    }

    public static void Exists(RespRequestWriter w, ReadOnlySpan<ChunkKey> keys) => Keyed(w, "KV.EXISTS"u8, keys);

    public static void Delete(RespRequestWriter w, ReadOnlySpan<ChunkKey> keys) => Keyed(w, "KV.DEL"u8, keys);

    /// <summary><c>KV.PIN key [key ...] [TTL seconds]</c>, or <c>KV.UNPIN key [key ...]</c> when <paramref name="unpin"/>.</summary>
    public static void Pin(RespRequestWriter w, ReadOnlySpan<ChunkKey> keys, TimeSpan? ttl, bool unpin)
    {
        if (ttl is { } t && t < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), t, "A pin's time to live is a whole number of seconds, at least 1.");
        }

        w.Begin(keys.Length + 1 + (ttl is null || unpin ? 0 : 2));
        w.Arg(unpin ? "KV.UNPIN"u8 : "KV.PIN"u8);
        w.ArgKeys(keys);
        if (ttl is { } seconds && !unpin)
        {
            w.Arg("TTL"u8);
            w.ArgText(((long)seconds.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Any command, its arguments as UTF-8.</summary>
    public static void Any(RespRequestWriter w, IReadOnlyList<string> args)
    {
        w.Begin(args.Count);
        for (int i = 0; i < args.Count; i++)
        {
            w.ArgText(args[i]);
        }
    }

    /// <summary>The reply to <c>KV.STATS</c> (name, value, ...) as name/value text pairs.</summary>
    public static IReadOnlyDictionary<string, string> StatsFrom(object? reply)
    {
        var items = reply as object?[] ?? [];
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < items.Length; i += 2)
        {
            d[items[i]?.ToString() ?? ""] = Convert.ToString(items[i + 1], CultureInfo.InvariantCulture) ?? "";
        }

        return d;
    }

    private static void Named(RespRequestWriter w, int count, ReadOnlySpan<byte> command, ReadOnlySpan<byte> name)
    {
        w.Begin(count);
        w.Arg(command);
        w.Arg(name);
    }

    private static void Keyed(RespRequestWriter w, ReadOnlySpan<byte> command, ReadOnlySpan<ChunkKey> keys)
    {
        w.Begin(keys.Length + 1);
        w.Arg(command);
        w.ArgKeys(keys);
    }
}
