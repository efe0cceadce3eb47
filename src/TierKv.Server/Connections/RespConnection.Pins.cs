using System.Buffers.Text;
using TierKv.Tiers.Slots;

namespace TierKv.Server.Connections;

/// <summary>KV.PIN and KV.UNPIN: keep values in the tenant's tiers whatever else comes (docs/protocol.md, "Pins and priorities").</summary>
internal sealed partial class RespConnection
{
    /// <summary><c>KV.PIN key [key ...] [TTL seconds]</c>: how many of the keys are held and now pinned.</summary>
    private ValueTask<bool> Pin(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("kv.pin");
        }

        int keyCount = argc - 1;
        TimeSpan? ttl = null;
        if (argc >= 4 && Ascii.EqualsIgnoreCase(Arg(src, _args[argc - 2]), "TTL"u8))
        {
            if (!Utf8Parser.TryParse(Arg(src, _args[argc - 1]), out long seconds, out int used) || used != _args[argc - 1].Length || seconds <= 0 || seconds > int.MaxValue)
            {
                return Fail(Replies.KvPinTtl);
            }

            ttl = TimeSpan.FromSeconds(seconds);
            keyCount -= 2;
        }

        if (!ScopeKeys(src, 1, keyCount, out var keys, out _))
        {
            return Fail(Replies.BadKeyName);
        }

        try
        {
            _out.Integer(_tenant!.Values.Pin(keys, ttl));
            return True;
        }
        catch (PinLimitExceededException ex)
        {
            return Fail(Replies.PinLimit(ex.Message));
        }
    }

    /// <summary><c>KV.UNPIN key [key ...]</c>: how many of the keys were pinned (their values stay).</summary>
    private ValueTask<bool> Unpin(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("kv.unpin");
        }

        if (!ScopeKeys(src, 1, argc - 1, out var keys, out _))
        {
            return Fail(Replies.BadKeyName);
        }

        _out.Integer(_tenant!.Values.Unpin(keys));
        return True;
    }

    /// <summary>
    /// The tenant's keys of the <paramref name="count"/> arguments from <paramref name="first"/> (chunk keys or value
    /// names, as KV.GET takes them); false with <paramref name="bad"/> the index (from 0) of one that is neither.
    /// </summary>
    private bool ScopeKeys(ReadOnlySpan<byte> src, int first, int count, out ReadOnlySpan<ChunkKey> keys, out int bad)
    {
        var buffer = _keys ??= new ChunkKey[_limits.MaxArrayLength];
        for (int i = 0; i < count; i++)
        {
            if (!KeyNames.TryMap(Arg(src, _args[first + i]), out var k))
            {
                keys = default;
                bad = i;
                return false;
            }

            buffer[i] = _tenant!.Scope(k);
        }

        keys = buffer.AsSpan(0, count);
        bad = -1;
        return true;
    }
}
