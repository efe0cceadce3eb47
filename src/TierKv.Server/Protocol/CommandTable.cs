namespace TierKv.Server.Protocol;

/// <summary>
/// What <c>COMMAND</c> reports: each command's arity, flags and key positions, in Redis 7's shape. Cluster clients
/// (redis-py's <c>RedisCluster</c>, say) read it to find the keys of a command before routing it.
/// </summary>
internal static class CommandTable
{
    /// <summary>One command: name, arity (negative: at least), flags, first key, last key (-1: the last argument), step.</summary>
    public readonly record struct Entry(string Name, int Arity, string[] Flags, int FirstKey, int LastKey, int Step);

    private static readonly string[] ReadFast = ["readonly", "fast"];
    private static readonly string[] WriteDenyOom = ["write", "denyoom"];
    private static readonly string[] WriteFast = ["write", "fast"];
    private static readonly string[] Fast = ["fast"];
    private static readonly string[] Connection = ["noscript", "loading", "stale", "fast", "no_auth"];
    private static readonly string[] Admin = ["loading", "stale"];
    private static readonly string[] ReadOnly = ["readonly"];

    public static readonly Entry[] All =
    [
        new("get", 2, ReadFast, 1, 1, 1),
        new("mget", -2, ReadFast, 1, -1, 1),
        new("set", -3, WriteDenyOom, 1, 1, 1),
        new("exists", -2, ReadFast, 1, -1, 1),
        new("del", -2, ["write"], 1, -1, 1),
        new("unlink", -2, WriteFast, 1, -1, 1),
        new("ttl", 2, ReadFast, 1, 1, 1),
        new("pttl", 2, ReadFast, 1, 1, 1),
        new("scan", -2, ReadOnly, 0, 0, 0),
        new("keys", 2, ReadOnly, 0, 0, 0),
        new("dbsize", 1, ReadFast, 0, 0, 0),
        new("ping", -1, Fast, 0, 0, 0),
        new("echo", 2, Fast, 0, 0, 0),
        new("hello", -1, Connection, 0, 0, 0),
        new("auth", -2, Connection, 0, 0, 0),
        new("client", -2, Admin, 0, 0, 0),
        new("command", -1, Admin, 0, 0, 0),
        new("info", -1, Admin, 0, 0, 0),
        new("select", 2, Admin, 0, 0, 0),
        new("config", -2, Admin, 0, 0, 0),
        new("cluster", -2, Admin, 0, 0, 0),
        new("readonly", 1, Fast, 0, 0, 0),
        new("readwrite", 1, Fast, 0, 0, 0),
        new("asking", 1, Fast, 0, 0, 0),
        new("quit", -1, Connection, 0, 0, 0),
        new("kv.get", 2, ReadFast, 1, 1, 1),
        new("kv.put", -3, WriteDenyOom, 1, 1, 1),
        new("kv.exists", -2, ReadFast, 1, -1, 1),
        new("kv.del", -2, ["write"], 1, -1, 1),
        new("kv.lookup", -3, ReadOnly, 0, 0, 0),
        new("kv.stats", 1, ReadOnly, 0, 0, 0),
        new("kv.pin", -2, ["write"], 1, -1, 1),
        new("kv.unpin", -2, ["write"], 1, -1, 1),
    ];

    public static void Write(ReplyBuffer output, in Entry e)
    {
        output.ArrayHeader(10);
        output.Bulk(e.Name);
        output.Integer(e.Arity);
        output.ArrayHeader(e.Flags.Length);
        foreach (var f in e.Flags)
        {
            output.Simple(System.Text.Encoding.ASCII.GetBytes(f));
        }

        output.Integer(e.FirstKey);
        output.Integer(e.LastKey);
        output.Integer(e.Step);
        output.ArrayHeader(0); // ACL categories
        output.ArrayHeader(0); // tips
        output.ArrayHeader(0); // key specifications
        output.ArrayHeader(0); // subcommands
    }

    public static bool TryFind(ReadOnlySpan<byte> name, out Entry entry)
    {
        foreach (var e in All)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(name, e.Name))
            {
                entry = e;
                return true;
            }
        }

        entry = default;
        return false;
    }
}
