using TierKv.Keys;
using TierKv.Tiers;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

/// <summary>
/// Overwrites in the DRAM tier (docs/core.md, "Versions"): a newer version replaces the held one atomically, an aborted
/// overwrite leaves it untouched, and an evicted chunk stays readable until the tier below holds it.
/// </summary>
public class HostMemoryTierVersionTests
{
    private static ChunkKey K(int i) => new((UInt128)(uint)i + 5000);

    private static byte[] Bytes(int key, long version) => PayloadFor(new ChunkKey((UInt128)(ulong)((key * 1000L) + version)));

    private static TierWriteStatus Put(HostMemoryTier t, int key, long version)
    {
        var s = t.TryBeginWrite(K(key), Tiny.ChunkBytes, out var r, replace: true);
        if (s != TierWriteStatus.Stored)
        {
            return s;
        }

        Bytes(key, version).CopyTo(r.Span);
        return t.CommitWrite(Tiny, r, null, version);
    }

    private static byte[]? Get(HostMemoryTier t, int key)
    {
        var d = new byte[Tiny.ChunkBytes];
        return t.TryRead(K(key), d) ? d : null;
    }

    [Fact]
    public void A_newer_version_replaces_the_held_one_and_an_older_one_loses()
    {
        using var t = Dram(4);
        Assert.Equal(TierWriteStatus.Stored, Put(t, 1, 3));
        Assert.Equal(TierWriteStatus.Stored, Put(t, 1, 4));
        Assert.Equal(TierWriteStatus.AlreadyPresent, Put(t, 1, 2)); // committed late: ordered before version 4
        Assert.Equal(Bytes(1, 4), Get(t, 1));
        Assert.Equal(1, t.ChunkCount);
        Assert.Equal(Tiny.ChunkBytes, t.UsedBytes);
        Assert.True(t.TryAcquire(K(1), out var lease));
        using (lease)
        {
            Assert.Equal(4, lease.Version);
        }
    }

    [Fact]
    public void An_aborted_overwrite_leaves_the_held_value_untouched()
    {
        using var t = Dram(4);
        Assert.Equal(TierWriteStatus.Stored, Put(t, 1, 1));
        Assert.Equal(TierWriteStatus.Stored, t.TryBeginWrite(K(1), Tiny.ChunkBytes, out var r, replace: true));
        r.Span.Fill(0xEE); // half a value arrived, then the client went away
        Assert.Equal(Bytes(1, 1), Get(t, 1)); // still the old one meanwhile
        t.AbortWrite(r);
        Assert.Equal(Bytes(1, 1), Get(t, 1));
        Assert.Equal(1, t.ChunkCount);
    }

    [Fact]
    public void An_overwrite_under_a_reader_keeps_the_readers_bytes_until_it_is_done()
    {
        using var t = Dram(2);
        Put(t, 1, 1);
        Assert.True(t.TryAcquire(K(1), out var lease));
        Assert.Equal(TierWriteStatus.Stored, Put(t, 1, 2));
        Assert.Equal(Bytes(1, 1), lease.Span.ToArray()); // the reader's copy is intact
        Assert.Equal(Bytes(1, 2), Get(t, 1));
        Assert.Equal(TierWriteStatus.Stored, Put(t, 2, 1)); // the reader still holds one of the two slots: this evicts
        Assert.Equal(1, t.ChunkCount);
        Assert.Equal(Bytes(1, 1), lease.Span.ToArray());
        lease.Dispose();
        Assert.Equal(TierWriteStatus.Stored, Put(t, 4, 1)); // the old slot came back with the last reader
        Assert.Equal(2, t.ChunkCount);
    }

    [Fact]
    public void An_evicted_chunk_stays_readable_while_the_eviction_sink_runs()
    {
        using var t = Dram(2);
        var sink = new ProbingSink(t);
        t.EvictionSink = sink;
        Put(t, 1, 1);
        Put(t, 2, 1);
        Assert.Equal(TierWriteStatus.Stored, Put(t, 3, 1)); // evicts key 1 (LRU)
        Assert.Equal([K(1)], sink.Seen);
        Assert.True(sink.VisibleDuringCall); // a reader found it in DRAM while it travelled down
        Assert.Null(Get(t, 1)); // gone once the sink returned
        Assert.Equal(1, sink.Versions[0]);
    }

    [Fact]
    public void A_reader_that_pins_the_victim_during_the_hand_over_makes_the_writer_take_another_slot()
    {
        using var t = Dram(2);
        var sink = new ProbingSink(t) { PinDuringCall = true };
        t.EvictionSink = sink;
        Put(t, 1, 1);
        Put(t, 2, 1);
        Assert.Equal(TierWriteStatus.Stored, Put(t, 3, 1));
        Assert.Equal([K(1), K(2)], sink.Seen); // key 1 was pinned, so key 2 went too
        Assert.Equal(Bytes(1, 1), sink.Pinned!.Value.Span.ToArray()); // the pinned reader's bytes were never overwritten
        sink.Pinned.Value.Dispose();
        Assert.Equal(Bytes(3, 1), Get(t, 3));
        Assert.Equal(TierWriteStatus.Stored, Put(t, 4, 1)); // the pinned slot came back with its reader
    }

    private sealed class ProbingSink(HostMemoryTier tier) : IEvictionSink
    {
        public List<ChunkKey> Seen { get; } = [];

        public List<long> Versions { get; } = [];

        public bool VisibleDuringCall { get; private set; }

        public bool PinDuringCall { get; init; }

        public ChunkLease? Pinned { get; private set; }

        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld)
        {
            Seen.Add(key);
            Versions.Add(version);
            VisibleDuringCall = tier.Contains(key);
            if (PinDuringCall && Pinned is null && tier.TryAcquire(key, out var lease))
            {
                Pinned = lease;
            }
        }
    }
}
