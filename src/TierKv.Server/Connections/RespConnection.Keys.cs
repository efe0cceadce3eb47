using System.Buffers.Text;

namespace TierKv.Server.Connections;

/// <summary>Key-space commands: EXISTS, DEL/UNLINK, TTL/PTTL, SCAN and KEYS (names come back from the records).</summary>
internal sealed partial class RespConnection
{
    /// <summary>The beginning of a record, for reading a key's name.</summary>
    private byte[]? _peek;

    /// <summary>EXISTS answers, one per key.</summary>
    private bool[]? _present;

    private ValueTask<bool> Exists(CommandKind kind, ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs(kind == CommandKind.Exists ? "exists" : "kv.exists");
        }

        var tenant = _tenant!;
        int n = argc - 1;
        var keys = Keys;
        var present = _present ??= new bool[_limits.MaxArrayLength];
        bool missing = false;
        for (int i = 0; i < n; i++)
        {
            keys[i] = KeyNames.TryMap(Arg(src, _args[i + 1]), out var k) ? tenant.Scope(k) : default;
            present[i] = keys[i] != default && tenant.Values.Exists(keys[i]);
            missing |= !present[i];
        }

        if (missing && tenant.Values.HasRemote)
        {
            return ExistsBelowAsync(kind, tenant, n);
        }

        ReplyExists(kind, n);
        return True;
    }

    /// <summary>Asks the remote cluster about the keys this node lacks (a dead cluster answers "absent").</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExistsBelowAsync(CommandKind kind, Tenant tenant, int n)
    {
        await tenant.Values.ExistsRemoteAsync(Keys.AsMemory(0, n), _present.AsMemory(0, n)).ConfigureAwait(false);
        ReplyExists(kind, n);
        return true;
    }

    private void ReplyExists(CommandKind kind, int n)
    {
        var present = _present!;
        if (kind == CommandKind.KvExists)
        {
            _out.ArrayHeader(n);
            for (int i = 0; i < n; i++)
            {
                _out.Integer(present[i] ? 1 : 0);
            }

            return;
        }

        int count = 0;
        for (int i = 0; i < n; i++)
        {
            count += present[i] ? 1 : 0;
        }

        _out.Integer(count);
    }

    private ValueTask<bool> Delete(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("del");
        }

        var tenant = _tenant!;
        var keys = Keys;
        int n = 0;
        for (int i = 1; i < argc; i++)
        {
            if (KeyNames.TryMap(Arg(src, _args[i]), out var k))
            {
                keys[n++] = tenant.Scope(k);
            }
        }

        return DeleteAsync(tenant, n);
    }

    /// <summary>Deletes from every tier; the reply comes once no copy is left on disk, so a crash after it keeps the delete.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DeleteAsync(Tenant tenant, int count)
    {
        int removed = 0;
        for (int i = 0; i < count; i++)
        {
            if (await tenant.Values.DeleteAsync(_keys![i]).ConfigureAwait(false))
            {
                removed++;
            }
        }

        _out.Integer(removed);
        return true;
    }

    /// <summary>TTL / PTTL key: -2 when absent, -1 without a time to live, else what is left (seconds rounded as Redis does, or ms).</summary>
    private ValueTask<bool> Ttl(CommandKind kind, ReadOnlySpan<byte> src, int argc)
    {
        if (argc != 2)
        {
            return WrongArgs(kind == CommandKind.Ttl ? "ttl" : "pttl");
        }

        var tenant = _tenant!;
        long at = KeyNames.TryMap(Arg(src, _args[1]), out var k) ? tenant.Values.ExpiryOf(tenant.Scope(k)) : -1;
        if (at <= 0)
        {
            _out.Integer(at < 0 ? -2 : -1);
            return True;
        }

        long left = Math.Max(0, at - TenantStore.NowMs);
        _out.Integer(kind == CommandKind.Ttl ? (left + 500) / 1000 : left);
        return True;
    }

    /// <summary>
    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. The cursor is the high 64 bits of the next stored key in key
    /// order, so a full iteration returns every key held from start to end at least once (Redis's guarantee), whatever
    /// is added or removed meanwhile.
    /// </summary>
    private ValueTask<bool> Scan(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("scan");
        }

        var c = Arg(src, _args[1]);
        if (!Utf8Parser.TryParse(c, out ulong cursor, out int used) || used != c.Length)
        {
            return Fail(Replies.InvalidCursor);
        }

        long count = 10;
        byte[]? pattern = null;
        bool stringsOnly = true;
        for (int i = 2; i < argc; i += 2)
        {
            var opt = Arg(src, _args[i]);
            if (i + 1 >= argc)
            {
                return Fail(Replies.Syntax);
            }

            var v = Arg(src, _args[i + 1]);
            if (Ascii.EqualsIgnoreCase(opt, "MATCH"u8))
            {
                pattern = v.ToArray();
            }
            else if (Ascii.EqualsIgnoreCase(opt, "COUNT"u8))
            {
                if (!Utf8Parser.TryParse(v, out count, out used) || used != v.Length)
                {
                    return Fail(Replies.NotInteger);
                }

                if (count < 1)
                {
                    return Fail(Replies.Syntax);
                }
            }
            else if (Ascii.EqualsIgnoreCase(opt, "TYPE"u8))
            {
                stringsOnly = Ascii.EqualsIgnoreCase(v, "string"u8);
            }
            else
            {
                return Fail(Replies.Syntax);
            }
        }

        var keys = _tenant!.Values.SortedKeys();
        int start = cursor == 0 ? 0 : FirstAtOrAbove(keys, cursor);
        int end = Math.Min(keys.Length, start + (int)Math.Min(count, int.MaxValue / 2));

        // Keys that share their high 64 bits are returned together, so the cursor never splits them.
        while (end < keys.Length && end > start && keys[end].High == keys[end - 1].High)
        {
            end++;
        }

        ulong next = end < keys.Length ? keys[end].High : 0;
        var names = stringsOnly ? Names(keys.AsSpan(start, end - start), pattern) : [];
        return WriteScanAsync(next, names);
    }

    /// <summary>KEYS pattern: every live name that matches (as Redis, meant for debugging: it walks the whole key space).</summary>
    private ValueTask<bool> KeysCommand(ReadOnlySpan<byte> src, int argc)
    {
        if (argc != 2)
        {
            return WrongArgs("keys");
        }

        var names = Names(_tenant!.Values.SortedKeys(), Arg(src, _args[1]).ToArray());
        return WriteNamesAsync(names);
    }

    private static int FirstAtOrAbove(ChunkKey[] keys, ulong high)
    {
        int lo = 0, hi = keys.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid].High < high)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The names of the live keys among <paramref name="keys"/> that match <paramref name="pattern"/> (all when null).</summary>
    private List<byte[]> Names(ReadOnlySpan<ChunkKey> keys, byte[]? pattern)
    {
        var tenant = _tenant!;
        var peek = _peek ??= new byte[TenantStore.PeekBytes];
        var names = new List<byte[]>();
        long now = TenantStore.NowMs;
        bool all = pattern is null || (pattern.Length == 1 && pattern[0] == (byte)'*');
        foreach (var key in keys)
        {
            if (!tenant.Values.TryPeek(key, peek, out var info) || info.ExpiredAt(now) || !tenant.Values.Exists(key))
            {
                continue;
            }

            // Records written before names were kept (format 1) list their chunk key when the tenant has no salt.
            byte[] name = info.NameLength > 0 ? peek.AsSpan(info.NameOffset, info.NameLength).ToArray()
                : tenant.Salted ? [] : Encoding.ASCII.GetBytes(key.ToString());
            if (name.Length > 0 && (all || GlobPattern.IsMatch(pattern!, name)))
            {
                names.Add(name);
            }
        }

        return names;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WriteScanAsync(ulong next, List<byte[]> names)
    {
        _out.ArrayHeader(2);
        Span<byte> digits = stackalloc byte[24];
        Utf8Formatter.TryFormat(next, digits, out int len);
        _out.Bulk(digits[..len]);
        return await WriteNamesAsync(names).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WriteNamesAsync(List<byte[]> names)
    {
        _out.ArrayHeader(names.Count);
        foreach (var name in names)
        {
            if (_out.Free < name.Length + 32)
            {
                await FlushAsync().ConfigureAwait(false);
            }

            _out.Bulk(name);
        }

        return true;
    }
}
