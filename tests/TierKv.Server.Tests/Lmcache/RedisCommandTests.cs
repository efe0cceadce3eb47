using System.Globalization;
using System.Net.Sockets;
using System.Text;
using TierKv.Server.Client;

namespace TierKv.Server.Tests.Lmcache;

/// <summary>The Redis commands and options LMCache's RESP connectors send (docs/lmcache.md), with Redis semantics.</summary>
public sealed class RedisCommandTests
{
    private static string S(object? o) => Assert.IsType<string>(o);

    private static object?[] A(object? o) => Assert.IsType<object?[]>(o);

    [Fact]
    public async Task Set_with_EX_takes_a_large_value_that_is_not_the_last_argument()
    {
        await using var s = TestServer.Start();
        using var raw = s.Raw();
        var value = new byte[300_000];
        new Random(3).NextBytes(value);
        var frame = new MemoryStream();
        void Put(string t) => frame.Write(Encoding.ASCII.GetBytes(t));
        Put("*5\r\n$3\r\nSET\r\n$9\r\nbig:value\r\n$300000\r\n");
        frame.Write(value);
        Put("\r\n$2\r\nEX\r\n$3\r\n600\r\n");
        raw.Send(frame.ToArray());
        Assert.Equal("+OK\r\n", raw.ReadExactly(5));

        using var c = s.Client();
        var dest = new byte[400_000];
        Assert.Equal(value.Length, c.Get("big:value"u8, dest));
        Assert.Equal(value, dest[..value.Length]);
        Assert.InRange((long)c.Execute("TTL", "big:value")!, 599, 600);
    }

    [Fact]
    public async Task Concurrent_SET_NX_of_one_key_lets_exactly_one_writer_win()
    {
        await using var s = TestServer.Start();
        const int writers = 6;
        var clients = Enumerable.Range(0, writers).Select(_ => s.Client()).ToArray();
        try
        {
            for (int round = 0; round < 40; round++)
            {
                string key = $"nx:{round}";
                using var start = new Barrier(writers);

                // Values of both size classes race, so the check under the key's lock meets writes of either.
                var answers = await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() =>
                {
                    start.SignalAndWait();
                    return clients[w].Execute("SET", key, new string((char)('a' + w), w % 2 == 0 ? 100 : 2000), "NX") as string;
                })));
                int winner = Array.FindIndex(answers, a => a == "OK");
                Assert.Equal(1, answers.Count(a => a == "OK"));
                Assert.Equal(writers - 1, answers.Count(a => a is null));
                Assert.Equal(new string((char)('a' + winner), winner % 2 == 0 ? 100 : 2000), S(clients[0].Execute("GET", key)));
            }
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }

    [Fact]
    public async Task Set_NX_and_XX_follow_presence_and_answer_null_when_not_applied()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        Assert.Null(c.Execute("SET", "k", "v1", "XX"));
        Assert.Equal("OK", S(c.Execute("SET", "k", "v1", "NX")));
        Assert.Null(c.Execute("SET", "k", "v2", "NX"));
        Assert.Equal("OK", S(c.Execute("SET", "k", "v3", "XX", "PX", "900000")));
        Assert.Equal("v3", S(c.Execute("GET", "k")));
        Assert.Equal("OK", S(c.Execute("SET", "k", "v4", "KEEPTTL")));
        Assert.InRange((long)c.Execute("PTTL", "k")!, 800_000, 900_000);
        Assert.Equal("OK", S(c.Execute("SET", "k", "v5")));
        Assert.Equal(-1L, c.Execute("TTL", "k"));
        Assert.Equal(-2L, c.Execute("TTL", "missing"));
        Assert.Throws<TierKvServerException>(() => c.Execute("SET", "k", "v", "EX", "0"));
        Assert.Throws<TierKvServerException>(() => c.Execute("SET", "k", "v", "EX", "ten"));
        Assert.Throws<TierKvServerException>(() => c.Execute("SET", "k", "v", "NX", "XX"));
        Assert.Throws<TierKvServerException>(() => c.Execute("SET", "k", "v", "BOGUS"));
        Assert.Equal("v5", S(c.Execute("GET", "k")));
    }

    [Fact]
    public async Task An_expired_value_is_gone_from_every_command()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        string past = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1000).ToString(CultureInfo.InvariantCulture);
        Assert.Equal("OK", S(c.Execute("SET", "old", "x", "PXAT", past)));
        Assert.Equal("OK", S(c.Execute("SET", "live", "y")));
        Assert.Null(c.Execute("GET", "old"));
        Assert.Equal(1L, c.Execute("EXISTS", "old", "live"));
        Assert.Equal(new object?[] { null, "y" }, A(c.Execute("MGET", "old", "live")));
        Assert.Equal(-2L, c.Execute("TTL", "old"));
        Assert.Null(c.Execute("SET", "old", "z", "XX"));

        // A value set again after its expiry was seen is the new value, in every tier (nothing removes it behind the SET).
        Assert.Equal("OK", S(c.Execute("SET", "old", "new")));
        Assert.Equal("new", S(c.Execute("GET", "old")));
        Assert.Equal(-1L, c.Execute("TTL", "old"));
        Assert.Equal(2L, c.Execute("EXISTS", "old", "live"));
    }

    [Fact]
    public async Task Multi_key_commands_count_and_answer_per_key()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        c.Execute("SET", "a", "1");
        c.Execute("SET", "b", "2");
        Assert.Equal(3L, c.Execute("EXISTS", "a", "b", "a", "zz"));
        Assert.Equal(new object?[] { "1", null, "2" }, A(c.Execute("MGET", "a", "nope", "b")));
        Assert.Equal(2L, c.Execute("DEL", "a", "b", "nope"));
        Assert.Equal(0L, c.Execute("EXISTS", "a", "b"));
    }

    [Fact]
    public async Task Mget_of_many_large_values_streams_them_in_order()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var values = Enumerable.Range(0, 6).Select(i => new string((char)('a' + i), 40_000 + i)).ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            c.Execute("SET", "m" + i, values[i]);
        }

        var got = A(c.Execute(["MGET", .. Enumerable.Range(0, 6).Select(i => "m" + i)]));
        Assert.Equal(values, got.Cast<string>().ToArray());
    }

    [Fact]
    public async Task Scan_returns_every_name_once_across_cursor_pages_and_filters_by_MATCH()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var names = Enumerable.Range(0, 40).Select(i => $"vllm@model@1@0@{i:x8}" + (i % 2 == 0 ? "kv_bytes" : "metadata")).ToHashSet();
        foreach (var n in names)
        {
            c.Execute("SET", n, "v");
        }

        var seen = new List<string>();
        string cursor = "0";
        int pages = 0;
        do
        {
            var reply = A(c.Execute("SCAN", cursor, "MATCH", "*", "COUNT", "7"));
            cursor = S(reply[0]);
            seen.AddRange(A(reply[1]).Cast<string>());
            pages++;
        }
        while (cursor != "0");

        Assert.True(pages >= 5, $"{pages} pages for 40 keys at COUNT 7");
        Assert.Equal(names.Order(), seen.Order());
        var meta = A(A(c.Execute("SCAN", "0", "MATCH", "*metadata", "COUNT", "1000"))[1]).Cast<string>();
        Assert.Equal(names.Where(n => n.EndsWith("metadata", StringComparison.Ordinal)).Order(), meta.Order());
        Assert.Empty(A(A(c.Execute("SCAN", "0", "TYPE", "hash"))[1]));
        Assert.Equal(20, A(c.Execute("KEYS", "*kv_bytes")).Length);
        Assert.Throws<TierKvServerException>(() => c.Execute("SCAN", "abc"));
    }

    [Fact]
    public async Task A_single_daemon_answers_as_a_one_node_cluster_owning_every_slot()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var slots = A(c.Execute("CLUSTER", "SLOTS"));
        var range = A(Assert.Single(slots));
        Assert.Equal(0L, range[0]);
        Assert.Equal(16383L, range[1]);
        var node = A(range[2]);
        Assert.Equal("127.0.0.1", S(node[0]));
        Assert.Equal((long)s.Port, node[1]);
        Assert.Equal(40, S(node[2]).Length);
        Assert.Contains("cluster_state:ok", S(c.Execute("CLUSTER", "INFO")), StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{s.Port}@{s.Port + 10000} myself,master - 0 0 1 connected 0-16383", S(c.Execute("CLUSTER", "NODES")), StringComparison.Ordinal);

        // Redis's CRC16 slots, with hash tags: {key}:kv_bytes and {key}:metadata share a slot.
        Assert.Equal(12182L, c.Execute("CLUSTER", "KEYSLOT", "foo"));
        Assert.Equal(c.Execute("CLUSTER", "KEYSLOT", "{chunk-1}:kv_bytes"), c.Execute("CLUSTER", "KEYSLOT", "{chunk-1}:metadata"));
        Assert.Single(A(c.Execute("CLUSTER", "SHARDS")));
        Assert.Contains("cluster_enabled:1", S(c.Execute("INFO")), StringComparison.Ordinal);
        Assert.Equal("OK", S(c.Execute("READONLY")));
    }

    [Fact]
    public async Task Command_reports_key_positions_for_cluster_clients()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var table = A(c.Execute("COMMAND"));
        Assert.Equal(A(table.Single(e => S(A(e)[0]) == "mget")), A(A(c.Execute("COMMAND", "INFO", "mget"))[0]));
        var mget = A(table.Single(e => S(A(e)[0]) == "mget"));
        Assert.Equal(new object?[] { 1L, -1L, 1L }, mget[3..6]);
        Assert.Equal((long)table.Length, c.Execute("COMMAND", "COUNT"));
    }

    [Fact]
    public async Task Unknown_commands_and_options_answer_as_Redis_and_the_connection_stays_usable()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var e = Assert.Throws<TierKvServerException>(() => c.Execute("SENTINEL", "get-master-addr-by-name", "mymaster"));
        Assert.Equal("ERR unknown command 'SENTINEL', with args beginning with: 'get-master-addr-by-name' 'mymaster' ", e.Message);
        Assert.Throws<TierKvServerException>(() => c.Execute("CLUSTER", "FAILOVER"));
        Assert.Throws<TierKvServerException>(() => c.Execute("SCAN", "0", "BOGUS", "1"));
        Assert.Equal("PONG", S(c.Execute("PING")));
    }

    [Fact]
    public async Task Hello_auth_and_client_setinfo_work_without_tenants_as_for_Redis_default_user()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        Assert.Equal("OK", S(c.Execute("AUTH", "default", "anything")));
        Assert.Throws<TierKvServerException>(() => c.Execute("AUTH", "anything"));
        var hello = A(c.Execute("HELLO", "3", "AUTH", "default", "x", "SETNAME", "lmcache"));
        Assert.Contains("proto", hello);
        Assert.Equal("OK", S(c.Execute("CLIENT", "SETINFO", "LIB-NAME", "redis-py")));
        Assert.Equal("lmcache", S(c.Execute("CLIENT", "GETNAME")));
    }

    [Fact]
    public async Task A_pipelined_burst_past_the_argument_limit_is_answered_with_an_error()
    {
        await using var s = TestServer.Start(new ServerOptions { MaxArrayLength = 64 });
        using var raw = s.Raw();
        var sb = new StringBuilder();
        for (int i = 0; i < 50; i++)
        {
            sb.Append("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        }

        sb.Append("*100\r\n");
        raw.Send(sb.ToString());
        string expectedNulls = string.Concat(Enumerable.Repeat("$-1\r\n", 50));
        string got = raw.ReadExactly(expectedNulls.Length);
        Assert.Equal(expectedNulls, got);
        string error = raw.ReadExactly(8);
        Assert.StartsWith("-ERR Pro", error, StringComparison.Ordinal);
    }
}
