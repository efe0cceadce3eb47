using System.Net.Sockets;
using System.Text;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary>Starts an in-process server on a free loopback port; disposes it with the test.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(RespServer server) => Server = server;

    public RespServer Server { get; }

    public int Port => Server.EndPoint.Port;

    public static TestServer Start(ServerOptions? options = null)
    {
        options ??= new ServerOptions();
        options = options with { Port = 0, MetricsPort = -1, DramBytes = options.DramBytes == new ServerOptions().DramBytes ? 64L << 20 : options.DramBytes, SlotBytes = options.SlotBytes == 0 ? 1 << 20 : options.SlotBytes };
        var server = new RespServer(options);
        server.Start();
        return new TestServer(server);
    }

    public TierKvClient Client(string? token = null, string? user = null)
    {
        var c = TierKvClient.Connect("127.0.0.1", Port);
        if (token is not null)
        {
            c.Auth(token, user);
        }

        return c;
    }

    /// <summary>A raw socket with a receive timeout, for protocol-level tests.</summary>
    public Socket Raw()
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 15000, NoDelay = true };
        s.Connect("127.0.0.1", Port);
        return s;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>Raw-socket helpers.</summary>
internal static class RawSocket
{
    public static void Send(this Socket s, string text) => s.Send(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads until <paramref name="expected"/> bytes arrived or the peer closed; returns what arrived.</summary>
    public static string ReadExactly(this Socket s, int expected)
    {
        var buf = new byte[expected];
        int have = 0;
        while (have < expected)
        {
            int n = s.Receive(buf, have, expected - have, SocketFlags.None);
            if (n == 0)
            {
                break;
            }

            have += n;
        }

        return Encoding.UTF8.GetString(buf, 0, have);
    }

    /// <summary>Reads until the peer closes (bounded by the receive timeout); returns everything received.</summary>
    public static string ReadToClose(this Socket s, int max = 1 << 20)
    {
        var ms = new MemoryStream();
        var buf = new byte[8192];
        while (ms.Length < max)
        {
            int n;
            try
            {
                n = s.Receive(buf);
            }
            catch (SocketException)
            {
                break;
            }

            if (n == 0)
            {
                break;
            }

            ms.Write(buf, 0, n);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
