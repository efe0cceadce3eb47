using Microsoft.Win32.SafeHandles;
using TierKv.Chunks;

namespace TierKv.Server.Tenants;

/// <summary>
/// Names and expiries read back from records: SCAN lists the names clients sent (keys are stored as hashes), and a
/// restart recovers the keys with a time to live from the SSD tier's records.
/// </summary>
internal sealed partial class TenantStore
{
    /// <summary>Bytes of a record's beginning that hold its header and any name.</summary>
    public const int PeekBytes = 4096;

    /// <summary>Every key held, sorted, without duplicates (SCAN walks this order; its cursor is a position in it).</summary>
    public ChunkKey[] SortedKeys()
    {
        var all = new List<ChunkKey>();
        _chunks.CollectKeys(all);
        _small?.CollectKeys(all);
        all.Sort();
        int n = 0;
        for (int i = 0; i < all.Count; i++)
        {
            if (n == 0 || all[i] != all[n - 1])
            {
                all[n++] = all[i];
            }
        }

        return all.GetRange(0, n).ToArray();
    }

    /// <summary>
    /// Copies the first <see cref="PeekBytes"/> of <paramref name="key"/>'s record into <paramref name="peek"/> (from
    /// DRAM, else straight from the SSD tier's file) and parses its header; false when no tier holds it.
    /// </summary>
    public bool TryPeek(in ChunkKey key, Span<byte> peek, out RecordInfo info)
    {
        info = default;
        foreach (var cls in Classes)
        {
            if (TryPeekDram(cls, key, peek) || TryPeekSsd(cls, key, peek))
            {
                return ValueRecord.TryReadHeader(peek, cls.RecordBytes, out info);
            }
        }

        return false;
    }

    private IEnumerable<ValueClass> Classes => _small is null ? [_chunks] : [_chunks, _small];

    private static bool TryPeekDram(ValueClass cls, in ChunkKey key, Span<byte> peek)
    {
        if (!cls.Dram.TryAcquire(key, out var lease))
        {
            return false;
        }

        using (lease)
        {
            var span = lease.Span;
            span[..Math.Min(span.Length, peek.Length)].CopyTo(peek);
            return true;
        }
    }

    /// <summary>Reads a record's beginning from the SSD tier's file (the slot's payload follows its chunk header).</summary>
    private static bool TryPeekSsd(ValueClass cls, in ChunkKey key, Span<byte> peek)
    {
        if (cls.Ssd is not { } ssd || !ssd.TryLocate(key, out string path, out long offset))
        {
            return false;
        }

        try
        {
            using SafeFileHandle h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            int n = RandomAccess.Read(h, peek[..Math.Min(peek.Length, cls.RecordBytes)], offset + ChunkHeader.Size);
            return n >= ValueRecord.HeaderBytes;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>At open: the SSD tier's values that have a time to live (expired ones are removed).</summary>
    private void LoadExpiries(ValueClass cls)
    {
        if (cls.Ssd is not { } ssd)
        {
            return;
        }

        var peek = new byte[Math.Min(PeekBytes, cls.RecordBytes)];
        foreach (var key in ssd.ResidentKeys())
        {
            if (TryPeekSsd(cls, key, peek) && ValueRecord.TryReadHeader(peek, cls.RecordBytes, out var info) && info.ExpiresAtMs != 0)
            {
                // Expired ones too: the map is what makes EXISTS and SCAN treat them as absent without reading them.
                _expiry[key] = info.ExpiresAtMs;
            }
        }
    }
}
