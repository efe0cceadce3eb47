using System.Buffers.Binary;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Server.Protocol;
using TierKv.Server.Tenants;
using TierKv.Tiers;

namespace TierKv.Server.Tests;

/// <summary>
/// A tenant's store (DRAM and SSD tiers, both tiny, so that values keep moving between them) driven through the server's
/// storage API as a command handler would: SET overwrites, GET falls through to the SSD, DEL deletes everywhere.
/// Values are 4-byte numbers padded to <see cref="ValueBytes"/>.
/// </summary>
internal sealed class ValueStoreHarness : IDisposable
{
    public const int ValueBytes = 3000;

    private readonly TenantDirectory _tenants;
    private readonly SemaphoreSlim _turn = new(1, 1);

    public ValueStoreHarness(string dir, int dramRecords, int ssdRecords, bool writeThrough = true)
    {
        Dir = dir;
        var probe = new ServerOptions { SlotBytes = ValueBytes };
        int record = probe.RecordBytes;
        Options = probe with { DataDir = dir, DramBytes = (long)dramRecords * record, SsdBytes = (long)ssdRecords * record, SsdWriteThrough = writeThrough, MetricsPort = -1 };
        _tenants = new TenantDirectory(Options, new TierKvMetrics());
    }

    public string Dir { get; }

    public ServerOptions Options { get; }

    public TenantStore Store => _tenants.All[0].Values;

    public Tenant Tenant => _tenants.All[0];

    public static ChunkKey Key(int k) => new((UInt128)(uint)k + 77);

    public void Set(int k, int value) => SetAsync(k, value).GetAwaiter().GetResult();

    public int? Get(int k) => GetAsync(k).GetAwaiter().GetResult();

    public bool Delete(int k) => Store.DeleteAsync(Key(k)).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// SET as a command handler runs it; retries (as a client does) while every DRAM slot is busy. Writers take turns
    /// to reserve (first come, first served): without turns, a writer that has just committed reserves again at once,
    /// while one that found no room sleeps a millisecond, so with 2 slots the writers ran one after another and the
    /// last waited for every other writer's versions. Under load in CI that wait outlasted the retry budget
    /// ("SET 4: NoSpace" after 2 minutes). Commits, reads and deletes still run concurrently with reservations.
    /// </summary>
    public async Task SetAsync(int k, int value)
    {
        var key = Key(k);
        TierWriteStatus s;
        ValueWrite r;
        await _turn.WaitAsync();
        try
        {
            s = Store.Begin(key, Store.RecordBytes, overwrite: true, out r);
            for (int attempt = 0; s == TierWriteStatus.NoSpace && attempt < 20_000; attempt++)
            {
                // Every slot of the tiny DRAM tier is being read or written by the other threads.
                await Task.Delay(1);
                s = Store.Begin(key, Store.RecordBytes, overwrite: true, out r);
            }
        }
        finally
        {
            _turn.Release();
        }

        if (s != TierWriteStatus.Stored)
        {
            throw new InvalidOperationException($"SET {k}: {s}");
        }

        Fill(r.Reservation.Span, value);
        await Store.CommitAsync(r, null, overwrite: true, expiresAtMs: 0);
    }

    public async Task<int?> GetAsync(int k)
    {
        var key = Key(k);
        if (Store.TryGetInDram(key, out var lease, out var info))
        {
            using (lease)
            {
                return Decode(lease.Span, info.ValueLength);
            }
        }

        var buf = new byte[Store.RecordBytes];
        info = await Store.ReadBelowAsync(key, buf);
        return info.ValueLength < 0 ? null : Decode(buf, info.ValueLength);
    }

    private static void Fill(Span<byte> span, int value)
    {
        ValueRecord.WritePrefix(span, ValueBytes);
        span.Slice(ValueRecord.LegacyPrefixBytes, ValueBytes).Fill((byte)value);
        BinaryPrimitives.WriteInt32LittleEndian(span[ValueRecord.LegacyPrefixBytes..], value);
    }

    public void Dispose()
    {
        _tenants.Dispose();
        _turn.Dispose();
    }

    private static int Decode(ReadOnlySpan<byte> record, int len)
    {
        if (len != ValueBytes)
        {
            throw new InvalidOperationException($"a value of {len} bytes");
        }

        int v = BinaryPrimitives.ReadInt32LittleEndian(record[ValueRecord.LegacyPrefixBytes..]);
        var rest = record.Slice(ValueRecord.LegacyPrefixBytes + 4, ValueBytes - 4);
        if (rest.ContainsAnyExcept((byte)v))
        {
            throw new InvalidOperationException($"value {v} is torn");
        }

        return v;
    }
}
