using System.Text;
using TierKv.Keys;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

public class ProtocolTests
{
    private static ChunkKey[] Keys(int chunks, int seed = 1)
    {
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = new int[chunks * layout.TokensPerChunk];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (i * 31) + seed;
        }

        return PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
    }

    [Fact]
    public async Task Put_get_exists_delete_round_trip_small_and_large_values()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var keys = Keys(2);
        var small = Encoding.ASCII.GetBytes("small value");
        var large = new byte[700_000];
        new Random(3).NextBytes(large);
        Assert.True(c.Put(keys[0], small));
        Assert.False(c.Put(keys[0], small));
        Assert.True(c.Put(keys[1], large, keys[0]));

        var dest = new byte[1 << 20];
        Assert.Equal(small.Length, c.GetChunk(keys[0], dest));
        Assert.Equal(small, dest[..small.Length]);
        Assert.Equal(large.Length, c.GetChunk(keys[1], dest));
        Assert.Equal(large, dest[..large.Length]);

        var present = new bool[3];
        c.Exists([keys[0], keys[1], Keys(1, 99)[0]], present);
        Assert.Equal([true, true, false], present);
        Assert.Equal(1, c.Delete([keys[0]]));
        Assert.Equal(-1, c.GetChunk(keys[0], dest));
    }

    [Fact]
    public async Task Lookup_counts_leading_chunks_by_keys_and_by_tokens()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = new int[4 * layout.TokensPerChunk + 10];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = i * 7;
        }

        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        c.Put(keys[0], [1]);
        c.Put(keys[1], [2]);
        c.Put(keys[3], [4]);
        Assert.Equal(2, c.Lookup(keys));
        Assert.Equal(2 * layout.TokensPerChunk, c.LookupTokens(tokens));

        // A token list larger than the streaming threshold goes through the materialized path.
        var many = new int[64 * layout.TokensPerChunk];
        tokens.AsSpan(0, 4 * layout.TokensPerChunk).CopyTo(many);
        Assert.Equal(2 * layout.TokensPerChunk, c.LookupTokens(many));
    }

    [Fact]
    public async Task Plain_set_overwrites_and_get_of_a_missing_key_is_null()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var dest = new byte[64];
        c.Set("name:1"u8, "one"u8);
        c.Set("name:1"u8, "uno!"u8);
        Assert.Equal(4, c.Get("name:1"u8, dest));
        Assert.Equal("uno!", Encoding.ASCII.GetString(dest, 0, 4));
        Assert.Equal(-1, c.Get("name:2"u8, dest));
    }

    [Fact]
    public async Task Pipelined_commands_are_answered_in_order()
    {
        await using var s = TestServer.Start();
        using var raw = s.Raw();
        raw.Send("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2\r\nv1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*2\r\n$6\r\nEXISTS\r\n$1\r\na\r\n");
        string expected = "+OK\r\n$2\r\nv1\r\n+PONG\r\n:1\r\n";
        Assert.Equal(expected, raw.ReadExactly(expected.Length));
    }

    [Fact]
    public async Task Hello_3_switches_to_resp3_maps_and_nulls()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var hello = (object?[])c.Execute("HELLO", "3")!;
        Assert.Equal("server", hello[0]);
        Assert.Contains(3L, hello);
        Assert.Null(c.Execute("GET", "missing"));
        var stats = c.Stats();
        Assert.Equal("default", stats["tenant"]);
        Assert.Contains("dram", stats["tiers"], StringComparison.Ordinal);
        Assert.Contains("redis_version", (string)c.Execute("INFO")!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_commands_and_wrong_arity_get_errors_and_the_connection_stays_usable()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var ex = Assert.Throws<TierKvServerException>(() => c.Execute("FLY", "me"));
        Assert.StartsWith("ERR unknown command 'FLY'", ex.Message, StringComparison.Ordinal);
        Assert.Throws<TierKvServerException>(() => c.Execute("GET"));
        Assert.Throws<TierKvServerException>(() => c.Execute("AUTH", "x"));
        Assert.Equal("OK", c.Execute("CLIENT", "SETNAME", "worker-1"));
        Assert.Equal("worker-1", c.Execute("CLIENT", "GETNAME"));
        c.Ping();
    }

    [Fact]
    public async Task A_value_larger_than_a_slot_is_refused_and_its_bytes_skipped()
    {
        await using var s = TestServer.Start(new ServerOptions { SlotBytes = 64 << 10 });
        using var c = s.Client();
        var ex = Assert.Throws<TierKvServerException>(() => c.Set("big"u8, new byte[100_000]));
        Assert.Contains("slot size", ex.Message, StringComparison.Ordinal);
        c.Set("ok"u8, new byte[60_000]);
        Assert.Equal(60_000, c.Get("ok"u8, new byte[100_000]));
    }
}

public sealed class TraceTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task Record_trace_writes_one_record_per_lookup_with_its_keys()
    {
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = new int[3 * layout.TokensPerChunk];
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        await using (var s = TestServer.Start(new ServerOptions { RecordTrace = _path }))
        {
            using var c = s.Client();
            c.Lookup(keys);
            c.LookupTokens(tokens);
        }

        using var reader = TierKv.Tracing.AccessTraceReader.Open(_path);
        var read = new List<ChunkKey>();
        Assert.True(reader.TryRead(out var first, read));
        Assert.Equal(3 * layout.TokensPerChunk, first.Tokens);
        Assert.Equal(keys, read);
        read.Clear();
        Assert.True(reader.TryRead(out var second, read));
        Assert.Equal(keys, read);
        Assert.False(reader.TryRead(out _, read));
    }
}
