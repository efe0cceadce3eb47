using TierKv.Server.Connections;

namespace TierKv.Server.Protocol;

/// <summary>Every error reply the server sends, in one place (the wording follows Redis where Redis has the same error).</summary>
internal static class Replies
{
    public const string NoAuth = "NOAUTH Authentication required.";
    public const string HelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
    public const string WrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
    public const string AuthNotConfigured = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
    public const string HelloAuthNotConfigured = "ERR AUTH called without any password configured for the default user.";
    public const string NoProto = "NOPROTO unsupported protocol version";
    public const string DbIndexOutOfRange = "ERR DB index is out of range";
    public const string ConfigUnsupported = "ERR CONFIG is not supported by TierKV; configure the server with its file, environment or command line";
    public const string ClusterDisabled = "ERR This instance has cluster support disabled";
    public const string BadClientName = "ERR Client names cannot contain spaces, newlines or special characters, and are at most 128 bytes.";
    public const string Syntax = "ERR syntax error";
    public const string NotInteger = "ERR value is not an integer or out of range";
    public const string InvalidCursor = "ERR invalid cursor";
    public const string KvPutArity = "ERR wrong number of arguments for 'kv.put' command: KV.PUT key [PARENT parent] [PRIORITY 0-255] value";
    public const string KvPutSyntax = "ERR syntax error: KV.PUT key [PARENT parent] [PRIORITY 0-255] value";
    public const string KvPinTtl = "ERR KV.PIN's TTL is a positive number of seconds: KV.PIN key [key ...] [TTL seconds]";
    public const string AllSlotsBusy = "ERR no space: every DRAM slot of this tenant is being read; retry later";
    public const string LookupTokensBlob = "ERR KV.LOOKUP TOKENS takes the token ids as one blob of little-endian 32-bit integers";
    public const string LookupSyntax = "ERR syntax: KV.LOOKUP KEYS key [key ...] | KV.LOOKUP TOKENS blob";
    public const string ProtocolError = "ERR Protocol error";
    public const string BulkNotTerminated = "ERR Protocol error: bulk string not terminated by CRLF";

    public static readonly string BadKeyName = $"ERR key names are 1 to {KeyNames.MaxNameBytes} bytes";

    public static string UnknownCommand(ReadOnlySpan<byte> name) => $"ERR unknown command '{CommandNames.Printable(name)}'";

    /// <summary>Redis 7's wording: the name, then the first arguments (quoted, about 128 bytes of them).</summary>
    public static string UnknownCommand(ReadOnlySpan<byte> src, ReadOnlySpan<ArgRange> args)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 1; i < args.Length && sb.Length < 128; i++)
        {
            var a = src.Slice(args[i].Offset, Math.Min(args[i].Length, 128 - sb.Length));
            sb.Append('\'').Append(CommandNames.Printable(a)).Append("' ");
        }

        return $"ERR unknown command '{CommandNames.Printable(src.Slice(args[0].Offset, args[0].Length))}', with args beginning with: {sb}";
    }

    public static string InvalidExpire(string command) => $"ERR invalid expire time in '{command}' command";

    public static string LargeArgument(int index, int max) => $"ERR argument {index + 1} is larger than {max} bytes; only a value (SET's or KV.PUT's) may be";

    public static string ClusterUnsupported(string sub) => $"ERR CLUSTER {sub} is not supported by TierKV (keys are stored as hashes of their names)";

    public static string UnknownClusterSubcommand(ReadOnlySpan<byte> sub) => $"ERR unknown subcommand '{CommandNames.Printable(sub)}'. Try CLUSTER HELP.";

    public static string UnknownCommandSubcommand(ReadOnlySpan<byte> sub) => $"ERR unknown subcommand '{CommandNames.Printable(sub)}'. Try COMMAND HELP.";

    public static string WrongArgs(string command) => $"ERR wrong number of arguments for '{command}' command";

    public static string HelloSyntax(ReadOnlySpan<byte> option) => $"ERR Syntax error in HELLO option '{CommandNames.Printable(option)}'";

    public static string UnknownSubcommand(ReadOnlySpan<byte> sub) => $"ERR unknown subcommand '{CommandNames.Printable(sub)}'. Try CLIENT HELP.";

    public static string LookupBadKey(int index) => $"ERR key {index} of KV.LOOKUP is not a valid key name";

    /// <summary>A pin past the tenant's limit: the exception's message names the limit and the bytes.</summary>
    public static string PinLimit(string message) => "PINLIMIT " + message;

    public static string ValueSize(int max, long got) => $"ERR values are 1 to {max} bytes (the slot size); got {got}";

    public static string CommandTooLarge(int max) => $"ERR Protocol error: command exceeds {max} bytes";

    /// <summary>Before AUTH only small frames are read (as Redis limits unauthenticated clients).</summary>
    public static string UnauthenticatedFrame(int maxBulk) => $"ERR Protocol error: unauthenticated clients may send arguments of at most {maxBulk} bytes";
}
