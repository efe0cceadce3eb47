using System.Text;
using TierKv.Keys;

namespace TierKv.Remote;

/// <summary>
/// How chunk keys become Redis keys: <c>PREFIX:v1:{KEYHEX}</c>. The prefix is readable (find, ACL or drop a
/// deployment's keys by pattern); <c>v1</c> is the chunk-format generation; the hash tag is the 32 hex digits of the
/// chained chunk key, so the cluster slot of each chunk follows from its own key and the chunks of one request spread
/// over all slots and nodes. The tenant salt is already inside the chunk key (it is the root of the chain).
/// </summary>
public sealed class RedisKeyScheme
{
    private readonly byte[] _head;

    /// <summary>A scheme with the given prefix (validated by <see cref="RemoteTierOptions.Validate"/>).</summary>
    public RedisKeyScheme(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        if (prefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException($"Key prefix '{prefix}' must not contain braces: they would replace TierKV's cluster hash tag.", nameof(prefix));
        }

        Prefix = prefix;
        _head = Encoding.ASCII.GetBytes(prefix + ":v1:{");
    }

    /// <summary>The readable prefix.</summary>
    public string Prefix { get; }

    /// <summary>Length in bytes of every key of this scheme.</summary>
    public int KeyLength => _head.Length + 32 + 1;

    /// <summary>The Redis key of a chunk as ASCII bytes.</summary>
    public byte[] KeyFor(ChunkKey key)
    {
        var buf = new byte[KeyLength];
        _head.CopyTo(buf, 0);
        var hex = buf.AsSpan(_head.Length, 32);
        bool ok = key.Value.TryFormat(hex, out int written, "x32", System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Debug.Assert(ok && written == 32, "32 hex digits fit");
        buf[^1] = (byte)'}';
        return buf;
    }

    /// <summary>The Redis key of a chunk as text (for operators and plain clients).</summary>
    public string KeyStringFor(ChunkKey key) => $"{Prefix}:v1:{{{key}}}";

    /// <summary>A pattern matching every chunk key of this scheme (for <c>SCAN MATCH</c>).</summary>
    public string Pattern => $"{Prefix}:v1:*";
}
