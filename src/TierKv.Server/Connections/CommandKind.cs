namespace TierKv.Server.Connections;

/// <summary>The commands the server understands.</summary>
internal enum CommandKind
{
    Unknown,
    Ping,
    Echo,
    Hello,
    Auth,
    Quit,
    Info,
    Client,
    Command,
    Select,
    Config,
    Cluster,
    DbSize,
    Get,
    Set,
    Exists,
    Del,
    KvLookup,
    KvGet,
    KvPut,
    KvExists,
    KvDel,
    KvStats,
    MGet,
    Scan,
    Keys,
    Ttl,
    Pttl,
    ReadOnly,
    ReadWrite,
    Asking,
    KvPin,
    KvUnpin,
}

/// <summary>Maps a command name (any case) to its <see cref="CommandKind"/> without allocating.</summary>
internal static class CommandNames
{
    public static CommandKind Parse(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 when Ascii.EqualsIgnoreCase(name, "GET"u8) => CommandKind.Get,
        3 when Ascii.EqualsIgnoreCase(name, "SET"u8) => CommandKind.Set,
        3 when Ascii.EqualsIgnoreCase(name, "DEL"u8) => CommandKind.Del,
        3 when Ascii.EqualsIgnoreCase(name, "TTL"u8) => CommandKind.Ttl,
        4 when Ascii.EqualsIgnoreCase(name, "MGET"u8) => CommandKind.MGet,
        4 when Ascii.EqualsIgnoreCase(name, "SCAN"u8) => CommandKind.Scan,
        4 when Ascii.EqualsIgnoreCase(name, "KEYS"u8) => CommandKind.Keys,
        4 when Ascii.EqualsIgnoreCase(name, "PTTL"u8) => CommandKind.Pttl,
        4 when Ascii.EqualsIgnoreCase(name, "PING"u8) => CommandKind.Ping,
        4 when Ascii.EqualsIgnoreCase(name, "ECHO"u8) => CommandKind.Echo,
        4 when Ascii.EqualsIgnoreCase(name, "AUTH"u8) => CommandKind.Auth,
        4 when Ascii.EqualsIgnoreCase(name, "QUIT"u8) => CommandKind.Quit,
        4 when Ascii.EqualsIgnoreCase(name, "INFO"u8) => CommandKind.Info,
        5 when Ascii.EqualsIgnoreCase(name, "HELLO"u8) => CommandKind.Hello,
        6 when Ascii.EqualsIgnoreCase(name, "CLIENT"u8) => CommandKind.Client,
        6 when Ascii.EqualsIgnoreCase(name, "ASKING"u8) => CommandKind.Asking,
        6 when Ascii.EqualsIgnoreCase(name, "SELECT"u8) => CommandKind.Select,
        6 when Ascii.EqualsIgnoreCase(name, "CONFIG"u8) => CommandKind.Config,
        6 when Ascii.EqualsIgnoreCase(name, "EXISTS"u8) => CommandKind.Exists,
        6 when Ascii.EqualsIgnoreCase(name, "DBSIZE"u8) => CommandKind.DbSize,
        6 when Ascii.EqualsIgnoreCase(name, "KV.GET"u8) => CommandKind.KvGet,
        6 when Ascii.EqualsIgnoreCase(name, "KV.PIN"u8) => CommandKind.KvPin,
        6 when Ascii.EqualsIgnoreCase(name, "KV.PUT"u8) => CommandKind.KvPut,
        6 when Ascii.EqualsIgnoreCase(name, "KV.DEL"u8) => CommandKind.KvDel,
        6 when Ascii.EqualsIgnoreCase(name, "UNLINK"u8) => CommandKind.Del,
        7 when Ascii.EqualsIgnoreCase(name, "COMMAND"u8) => CommandKind.Command,
        7 when Ascii.EqualsIgnoreCase(name, "CLUSTER"u8) => CommandKind.Cluster,
        8 when Ascii.EqualsIgnoreCase(name, "KV.STATS"u8) => CommandKind.KvStats,
        8 when Ascii.EqualsIgnoreCase(name, "KV.UNPIN"u8) => CommandKind.KvUnpin,
        8 when Ascii.EqualsIgnoreCase(name, "READONLY"u8) => CommandKind.ReadOnly,
        9 when Ascii.EqualsIgnoreCase(name, "READWRITE"u8) => CommandKind.ReadWrite,
        9 when Ascii.EqualsIgnoreCase(name, "KV.LOOKUP"u8) => CommandKind.KvLookup,
        9 when Ascii.EqualsIgnoreCase(name, "KV.EXISTS"u8) => CommandKind.KvExists,
        _ => CommandKind.Unknown,
    };

    /// <summary>Commands an unauthenticated client may send.</summary>
    public static bool AllowedBeforeAuth(CommandKind kind) => kind is CommandKind.Ping or CommandKind.Hello or CommandKind.Auth or CommandKind.Quit or CommandKind.Command;

    /// <summary>Lower-case names, for metric tags.</summary>
    public static readonly string[] Tags = [.. Enum.GetNames<CommandKind>().Select(n => n.ToLowerInvariant())];

    /// <summary>A printable, bounded rendering of an unknown name for an error message.</summary>
    public static string Printable(ReadOnlySpan<byte> name)
    {
        var sb = new StringBuilder();
        foreach (byte b in name[..Math.Min(name.Length, 64)])
        {
            sb.Append(b is >= 0x20 and < 0x7f and not (byte)'\'' ? (char)b : '?');
        }

        return sb.ToString();
    }
}
