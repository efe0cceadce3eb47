using System.Diagnostics;
using System.Net.Sockets;
using CsCheck;

namespace TierKv.Server.Tests;

public class RobustnessTests
{
    [Fact]
    public async Task Hostile_frames_get_an_error_or_a_close_and_the_server_keeps_serving()
    {
        await using var s = TestServer.Start(new ServerOptions { FrameTimeoutSeconds = 2 });
        var frames = Gen.OneOf(
            Gen.Byte.Array[1, 200],
            Gen.Const("*2147483647\r\n"u8.ToArray()),
            Gen.Const("*1\r\n$999999999999\r\n"u8.ToArray()),
            Gen.Const("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc"u8.ToArray()),
            Gen.Int[1, 5000].Select(n => System.Text.Encoding.ASCII.GetBytes("*1\r\n$" + n + "\r\nxx")),
            Gen.Int[0, 70_000].Select(n => System.Text.Encoding.ASCII.GetBytes(new string('A', n))));
        frames.Sample(bytes =>
        {
            using var raw = s.Raw();
            raw.ReceiveTimeout = 200;
            try
            {
                raw.Send(bytes);
                raw.Shutdown(SocketShutdown.Send);
                _ = raw.ReadToClose(1 << 16);
            }
            catch (SocketException)
            {
                // The server may close first: that is an allowed answer.
            }
        }, iter: 150, threads: 1);

        using var c = s.Client();
        c.Ping();
        c.Set("still"u8, "here"u8);
        Assert.Equal(4, c.Get("still"u8, new byte[8]));
    }

    [Fact]
    public async Task An_absurd_bulk_length_is_refused_before_any_allocation()
    {
        await using var s = TestServer.Start();
        using var raw = s.Raw();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        raw.Send("*2\r\n$3\r\nGET\r\n$99999999999\r\n");
        string reply = raw.ReadToClose();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.StartsWith("-ERR Protocol error", reply, StringComparison.Ordinal);
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes for a refused frame");
    }

    [Fact]
    public async Task A_slow_sender_is_disconnected_after_the_frame_timeout()
    {
        await using var s = TestServer.Start(new ServerOptions { FrameTimeoutSeconds = 1 });
        using var raw = s.Raw();
        raw.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nonly-a-little");
        var sw = Stopwatch.StartNew();
        string rest = raw.ReadToClose();
        Assert.Equal("", rest);
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.5, 12);

        // A connection idle between frames is not a slow sender.
        using var idle = s.Client();
        idle.Ping();
        using var other = s.Client();
        other.Ping();
        idle.Ping();
    }

    [Fact]
    public async Task Clients_beyond_the_limit_are_refused_with_an_error()
    {
        await using var s = TestServer.Start(new ServerOptions { MaxClients = 2 });
        using var a = s.Client();
        using var b = s.Client();
        a.Ping();
        b.Ping();
        using var third = s.Raw();
        Assert.StartsWith("-ERR max number of clients", third.ReadToClose(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_value_is_never_stored()
    {
        await using var s = TestServer.Start();
        using (var raw = s.Raw())
        {
            raw.Send("*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$50000\r\n");
            raw.Send(new byte[20000]);
        }

        using var c = s.Client();
        // The server has seen the close once a later command from another client is answered and the torn one is gone.
        var deadline = Stopwatch.StartNew();
        while (s.Server.ConnectedClients > 1 && deadline.Elapsed.TotalSeconds < 10)
        {
            c.Ping();
        }

        Assert.Equal(-1, c.Get("torn"u8, new byte[60000]));
        Assert.Equal(0L, (long)c.Execute("DBSIZE")!);
    }
}
