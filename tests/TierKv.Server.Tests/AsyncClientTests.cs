using System.Text;
using TierKv.Keys;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary>The asynchronous client against an in-process server, and against a scripted one for cancellation and dead servers.</summary>
public class AsyncClientTests
{
    // Every await on the network is bounded, so a hang fails the test instead of stalling the suite.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    private const string TokenA = "token-of-tenant-a-0123456789";

    [Fact]
    public async Task Every_command_round_trips_and_agrees_with_the_sync_client()
    {
        await using var s = TestServer.Start();
        await using var c = await Connect(s.Port);
        using var sync = s.Client();
        await c.PingAsync().AsTask().WaitAsync(Limit);

        // SET/GET: a small value (joins the command buffer) and a large one (streamed from and into the caller's memory).
        var small = Bytes(100, 1);
        var large = Bytes(600_000, 2);
        await c.SetAsync(Name("small"), small).AsTask().WaitAsync(Limit);
        await c.SetAsync(Name("large"), large).AsTask().WaitAsync(Limit);
        var dest = new byte[1 << 20];
        Assert.Equal(small.Length, await c.GetAsync(Name("small"), dest).AsTask().WaitAsync(Limit));
        Assert.Equal(small, dest[..small.Length]);
        Assert.Equal(large.Length, await c.GetAsync(Name("large"), dest).AsTask().WaitAsync(Limit));
        Assert.Equal(large, dest[..large.Length]);
        Assert.Equal(-1, await c.GetAsync(Name("absent"), dest).AsTask().WaitAsync(Limit));
        Assert.Equal(large.Length, sync.Get(Name("large"), dest));
        Assert.Equal(large, dest[..large.Length]);

        // KV.PUT / KV.GET / KV.LOOKUP / KV.EXISTS / KV.DEL on chunk keys of a real token sequence.
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = Enumerable.Range(0, 4 * layout.TokensPerChunk).ToArray();
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        Assert.True(await c.PutAsync(keys[0], large).AsTask().WaitAsync(Limit));
        Assert.True(await c.PutAsync(keys[1], small, parent: keys[0]).AsTask().WaitAsync(Limit));
        Assert.False(await c.PutAsync(keys[1], small, parent: keys[0]).AsTask().WaitAsync(Limit));
        sync.Put(keys[2], small, keys[1]);
        Assert.Equal(large.Length, await c.GetChunkAsync(keys[0], dest).AsTask().WaitAsync(Limit));
        Assert.Equal(large, dest[..large.Length]);
        Assert.Equal(-1, await c.GetChunkAsync(keys[3], dest).AsTask().WaitAsync(Limit));
        Assert.Equal(3, await c.LookupAsync(keys).AsTask().WaitAsync(Limit));
        Assert.Equal(sync.Lookup(keys), await c.LookupAsync(keys).AsTask().WaitAsync(Limit));
        Assert.Equal(3 * layout.TokensPerChunk, await c.LookupTokensAsync(tokens).AsTask().WaitAsync(Limit));
        var present = new bool[4];
        await c.ExistsAsync(keys, present).AsTask().WaitAsync(Limit);
        Assert.Equal([true, true, true, false], present);
        Assert.Equal(2, await c.DeleteAsync(keys.AsMemory(1, 3)).AsTask().WaitAsync(Limit));
        Assert.Equal(1, sync.Lookup(keys));

        // KV.STATS and any other command.
        var stats = await c.StatsAsync().AsTask().WaitAsync(Limit);
        Assert.Equal("default", stats["tenant"]);
        Assert.Equal(sync.Stats()["puts"], stats["puts"]);
        Assert.Equal("hello", await c.ExecuteAsync(["ECHO", "hello"]).AsTask().WaitAsync(Limit));
        Assert.Equal(3L, await c.ExecuteAsync(["DBSIZE"]).AsTask().WaitAsync(Limit));
        var hello = Assert.IsType<object?[]>(await c.ExecuteAsync(["HELLO", "3"]).AsTask().WaitAsync(Limit));
        Assert.Contains("proto", hello);

        // After HELLO 3 the replies are RESP3 (null as '_'); the typed calls still read them.
        Assert.Equal(-1, await c.GetAsync(Name("absent"), dest).AsTask().WaitAsync(Limit));
        Assert.Equal(1, await c.LookupAsync(keys).AsTask().WaitAsync(Limit));
    }

    [Fact]
    public async Task Commands_larger_than_the_buffer_grow_it_and_the_client_goes_on()
    {
        await using var s = TestServer.Start();
        await using var c = await Connect(s.Port);
        var layout = ModelShapes.Llama3_8B.Layout;

        // 80 chunks of tokens: a 80 KiB blob, sent through the 64 KiB buffer in pieces.
        var tokens = Enumerable.Range(7, 80 * layout.TokensPerChunk).ToArray();
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        for (int i = 0; i < 50; i++)
        {
            await c.PutAsync(keys[i], Bytes(64, i)).AsTask().WaitAsync(Limit);
        }

        Assert.Equal(50 * layout.TokensPerChunk, await c.LookupTokensAsync(tokens).AsTask().WaitAsync(Limit));

        // 3,000 keys (117 KB of arguments) in one KV.LOOKUP.
        var many = new ChunkKey[3000];
        keys.AsSpan(0, 50).CopyTo(many);
        for (int i = 50; i < many.Length; i++)
        {
            many[i] = new ChunkKey((UInt128)i);
        }

        Assert.Equal(50, await c.LookupAsync(many).AsTask().WaitAsync(Limit));
        await c.PingAsync().AsTask().WaitAsync(Limit);
    }

    [Fact]
    public async Task Caller_mistakes_and_error_replies_leave_the_client_usable()
    {
        await using var s = TestServer.Start(new ServerOptions { Tenants = [new TenantOptions { Name = "a", Token = TokenA }] });
        await using var c = await Connect(s.Port);
        var noauth = await Assert.ThrowsAsync<TierKvServerException>(() => c.GetAsync(Name("x"), new byte[8]).AsTask().WaitAsync(Limit));
        Assert.StartsWith("NOAUTH", noauth.Message, StringComparison.Ordinal);
        var wrong = await Assert.ThrowsAsync<TierKvServerException>(() => c.AuthAsync("not-a-valid-token-at-all").AsTask().WaitAsync(Limit));
        Assert.StartsWith("WRONGPASS", wrong.Message, StringComparison.Ordinal);
        await c.AuthAsync(TokenA, "a").AsTask().WaitAsync(Limit);
        await Assert.ThrowsAsync<TierKvServerException>(() => c.ExecuteAsync(["NO.SUCH.COMMAND"]).AsTask().WaitAsync(Limit));

        // A value larger than the destination is read past, so the next reply is in step.
        await c.SetAsync(Name("v"), Bytes(100_000, 3)).AsTask().WaitAsync(Limit);
        var tooSmall = await Assert.ThrowsAsync<ArgumentException>(() => c.GetAsync(Name("v"), new byte[10]).AsTask().WaitAsync(Limit));
        Assert.Contains("100000 bytes", tooSmall.Message, StringComparison.Ordinal);
        Assert.Equal("ok", await c.ExecuteAsync(["ECHO", "ok"]).AsTask().WaitAsync(Limit));
        Assert.True(c.IsConnected);
    }

    [Fact]
    public async Task Concurrent_callers_on_one_client_each_get_their_own_replies()
    {
        // Room for every value (each takes a 1 MiB slot), so none is evicted and DBSIZE counts them all.
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 400L << 20 });
        await using var c = await Connect(s.Port);
        const int callers = 8;
        const int rounds = 40;
        var work = new Task[callers];
        for (int t = 0; t < callers; t++)
        {
            int caller = t;
            work[t] = Task.Run(async () =>
            {
                var dest = new byte[70_000];
                for (int r = 0; r < rounds; r++)
                {
                    // Sizes straddle the point where a value is streamed instead of buffered.
                    var value = Bytes(((caller * 7919) + (r * 1543)) % 69_000 + 1, caller * 1000 + r);
                    var name = Name($"c{caller}-r{r}");
                    await c.SetAsync(name, value);
                    Assert.Equal(value.Length, await c.GetAsync(name, dest));
                    Assert.True(value.AsSpan().SequenceEqual(dest.AsSpan(0, value.Length)), $"caller {caller} round {r} read another caller's value");
                    Assert.Equal(-1, await c.GetAsync(Name($"absent-{caller}"), dest));
                }
            });
        }

        await Task.WhenAll(work).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal((long)callers * rounds, await c.ExecuteAsync(["DBSIZE"]));
    }

    [Fact]
    public async Task A_call_cancelled_before_it_is_sent_leaves_the_client_usable()
    {
        await using var s = TestServer.Start();
        await using var c = await Connect(s.Port);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.PingAsync(cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.SetAsync(Name("x"), Bytes(10, 1), cancelled.Token).AsTask());
        Assert.True(c.IsConnected);
        Assert.Equal(-1, await c.GetAsync(Name("x"), new byte[16]).AsTask().WaitAsync(Limit));
    }

    [Fact]
    public async Task A_call_cancelled_while_queued_behind_another_leaves_the_client_usable()
    {
        using var server = ScriptedServer.Start();
        var accept = server.AcceptAsync();
        await using var c = await Connect(server.Port);
        await accept;

        // Call A is on the wire and the server holds its reply back; call B queues behind it and is cancelled.
        var a = c.PingAsync().AsTask();
        Assert.Equal(PingFrame, await server.ReceiveAsync(PingFrame));
        using var cts = new CancellationTokenSource();
        var b = c.ExecuteAsync(["ECHO", "never sent"], cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b.WaitAsync(Limit));
        Assert.False(a.IsCompleted);

        await server.SendAsync("+PONG\r\n");
        await a.WaitAsync(Limit);
        Assert.True(c.IsConnected);

        // The next command is the first thing the server sees after A: B never reached the wire.
        var next = c.PingAsync().AsTask();
        Assert.Equal(PingFrame, await server.ReceiveAsync(PingFrame));
        await server.SendAsync("+PONG\r\n");
        await next.WaitAsync(Limit);
    }

    [Fact]
    public async Task A_call_cancelled_on_the_wire_closes_the_client_with_a_clear_reason()
    {
        using var server = ScriptedServer.Start();
        var accept = server.AcceptAsync();
        await using var c = await Connect(server.Port);
        await accept;
        using var cts = new CancellationTokenSource();
        var get = c.GetAsync(Name("k"), new byte[64], cts.Token).AsTask();
        await server.ReceiveAsync("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");

        // The server never answers; cancelling is the only way out, and must not hang.
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => get.WaitAsync(Limit));
        Assert.False(c.IsConnected);
        var closed = await Assert.ThrowsAsync<ObjectDisposedException>(() => c.PingAsync().AsTask().WaitAsync(Limit));
        Assert.Contains("cancelled", closed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_the_client_fails_a_call_in_flight_and_returns()
    {
        using var server = ScriptedServer.Start();
        var accept = server.AcceptAsync();
        var c = await Connect(server.Port);
        await accept;
        var ping = c.PingAsync().AsTask();
        await server.ReceiveAsync(PingFrame);
        await c.DisposeAsync().AsTask().WaitAsync(Limit);
        var error = await Record.ExceptionAsync(() => ping.WaitAsync(Limit));
        Assert.True(error is IOException or ObjectDisposedException, $"got {error}");
        Assert.False(c.IsConnected);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => c.PingAsync().AsTask().WaitAsync(Limit));
    }

    [Fact]
    public async Task A_server_that_dies_in_the_middle_of_a_value_fails_the_call_with_an_IOException()
    {
        using var server = ScriptedServer.Start();
        var accept = server.AcceptAsync();
        await using var c = await Connect(server.Port);
        await accept;
        var dest = new byte[4096];
        var get = c.GetAsync(Name("k"), dest).AsTask();
        await server.ReceiveAsync("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        await server.SendAsync("$1000\r\n" + new string('x', 500));
        server.Reset();

        var error = await Assert.ThrowsAsync<IOException>(() => get.WaitAsync(Limit));
        Assert.False(c.IsConnected);
        var closed = await Assert.ThrowsAsync<ObjectDisposedException>(() => c.PingAsync().AsTask().WaitAsync(Limit));
        Assert.Contains("failed mid-command", closed.Message, StringComparison.Ordinal);
        _ = error;
    }

    [Fact]
    public async Task A_server_that_closes_before_answering_fails_the_call_with_an_IOException()
    {
        using var server = ScriptedServer.Start();
        var accept = server.AcceptAsync();
        await using var c = await Connect(server.Port);
        await accept;
        var lookup = c.LookupAsync(new[] { new ChunkKey(1) }).AsTask();
        await server.ReceiveAsync("*3\r\n$9\r\nKV.LOOKUP\r\n$4\r\nKEYS\r\n$32\r\n00000000000000000000000000000001\r\n");
        server.Close();
        var error = await Assert.ThrowsAsync<IOException>(() => lookup.WaitAsync(Limit));
        Assert.Contains("closed the connection", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_in_process_server_fails_the_next_call_instead_of_hanging()
    {
        var s = TestServer.Start();
        await using var c = await Connect(s.Port);
        await c.SetAsync(Name("x"), Bytes(1000, 1)).AsTask().WaitAsync(Limit);
        await s.DisposeAsync();
        await Assert.ThrowsAsync<IOException>(() => c.GetAsync(Name("x"), new byte[2000]).AsTask().WaitAsync(Limit));
        Assert.False(c.IsConnected);
    }

    [SkippableFact]
    public async Task A_tierkv_serve_process_killed_mid_call_fails_the_call_with_an_IOException()
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);
        using var serve = await ServeProcess.StartAsync(cli);
        await using var c = await Connect(serve.Port);
        await c.SetAsync(Name("x"), Bytes(1000, 1)).AsTask().WaitAsync(Limit);

        // Freeze the server, so the next call is surely in flight (sent, unanswered), then kill -9 it.
        serve.Signal("STOP");
        var get = c.GetAsync(Name("x"), new byte[2000]).AsTask();
        serve.Kill();
        await Assert.ThrowsAsync<IOException>(() => get.WaitAsync(Limit));
        Assert.False(c.IsConnected);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => c.PingAsync().AsTask().WaitAsync(Limit));
    }

    private const string PingFrame = "*1\r\n$4\r\nPING\r\n";

    private static Task<TierKvAsyncClient> Connect(int port) => TierKvAsyncClient.ConnectAsync("127.0.0.1", port).WaitAsync(Limit);

    private static byte[] Name(string s) => Encoding.ASCII.GetBytes(s);

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
