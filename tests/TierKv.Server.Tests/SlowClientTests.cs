using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace TierKv.Server.Tests;

/// <summary>
/// Clients that ask for large values and never read them, or stall in the middle of a frame, cost other clients
/// nothing: no thread waits on them, their unread replies are dropped with the connection after the frame timeout (and
/// the DRAM records they pinned come back), and a cut-off SET leaves the old value in place.
/// </summary>
public sealed class SlowClientTests
{
    private static byte[] Value(int i) => Enumerable.Repeat((byte)('a' + (i % 26)), 900_000).ToArray();

    [Fact]
    public async Task Clients_that_never_read_large_replies_do_not_stall_others_and_are_disconnected_after_the_frame_timeout()
    {
        await using var s = TestServer.Start(new ServerOptions { FrameTimeoutSeconds = 2, DramBytes = 24L << 20 });
        using (var c = s.Client())
        {
            for (int i = 0; i < 8; i++)
            {
                c.Set(Encoding.ASCII.GetBytes("big-" + i), Value(i));
            }
        }

        // 32 clients pipeline GETs of every value and never read: each holds at most one reply beyond its socket.
        var request = new StringBuilder();
        for (int i = 0; i < 8; i++)
        {
            request.Append($"*2\r\n$3\r\nGET\r\n$5\r\nbig-{i}\r\n");
        }

        var hogs = new List<Socket>();
        for (int h = 0; h < 32; h++)
        {
            var sock = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            sock.Connect("127.0.0.1", s.Port);
            sock.Send(Encoding.ASCII.GetBytes(request.ToString()));
            hogs.Add(sock);
        }

        try
        {
            using var normal = s.Client();
            var worst = TimeSpan.Zero;
            for (int i = 0; i < 50; i++)
            {
                var t = Stopwatch.StartNew();
                normal.Ping();
                worst = t.Elapsed > worst ? t.Elapsed : worst;
            }

            // A functional bound (not a benchmark): far above a ping's round trip, far below a blocked thread pool.
            Assert.True(worst < TimeSpan.FromSeconds(1), $"a PING took {worst.TotalMilliseconds:F0} ms beside clients that do not read");

            // The hogs' replies stay unread: after the frame timeout the server drops them.
            var deadline = Stopwatch.StartNew();
            while (s.Server.ConnectedClients > 1 && deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                normal.Ping();
                await Task.Delay(100);
            }

            Assert.Equal(1, s.Server.ConnectedClients);

            // Every DRAM record they pinned came back: new values fill the tier again.
            for (int i = 0; i < 20; i++)
            {
                normal.Set(Encoding.ASCII.GetBytes("after-" + i), Value(i));
            }
        }
        finally
        {
            foreach (var h in hogs)
            {
                h.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_set_cut_off_by_a_disconnect_leaves_the_old_value()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        c.Set("kept"u8, "old"u8);
        using (var raw = s.Raw())
        {
            raw.Send("*3\r\n$3\r\nSET\r\n$4\r\nkept\r\n$100000\r\n");
            raw.Send(new byte[30000]);
        }

        var deadline = Stopwatch.StartNew();
        while (s.Server.ConnectedClients > 1 && deadline.Elapsed.TotalSeconds < 10)
        {
            c.Ping();
        }

        var dest = new byte[16];
        Assert.Equal(3, c.Get("kept"u8, dest));
        Assert.Equal("old"u8.ToArray(), dest[..3]);
    }

    [Fact]
    public async Task Before_auth_only_small_frames_are_read()
    {
        await using var s = TestServer.Start(new ServerOptions { Tenants = [new TenantOptions { Name = "a", Token = "secret-token-of-tenant-a" }] });
        using var raw = s.Raw();
        raw.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n");
        string reply = raw.ReadToClose();
        Assert.StartsWith("-ERR Protocol error", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Echo_and_ping_of_large_arguments_are_answered()
    {
        await using var s = TestServer.Start();
        using var raw = s.Raw();
        var big = new string('e', 300_000);
        foreach (var cmd in new[] { "ECHO", "PING" })
        {
            raw.Send($"*2\r\n${cmd.Length}\r\n{cmd}\r\n${big.Length}\r\n{big}\r\n");
            string expected = $"${big.Length}\r\n{big}\r\n";
            Assert.Equal(expected, raw.ReadExactly(expected.Length));
        }

        using var c = s.Client();
        c.Ping(); // the connection is still usable
    }
}
