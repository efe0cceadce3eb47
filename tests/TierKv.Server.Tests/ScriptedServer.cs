using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TierKv.Server.Tests;

/// <summary>
/// A stand-in RESP server whose replies the test writes by hand: it can hold a reply back (a call stays in flight for
/// as long as the test wants, with no sleeps), send half a value, or drop the connection like a killed process.
/// </summary>
internal sealed class ScriptedServer : IDisposable
{
    private readonly Socket _listener;
    private Socket? _peer;

    private ScriptedServer(Socket listener) => _listener = listener;

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static ScriptedServer Start()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4);
        return new ScriptedServer(listener);
    }

    /// <summary>Accepts the client's connection (call before or while the client connects).</summary>
    public async Task AcceptAsync() => _peer = await _listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));

    /// <summary>Reads exactly <paramref name="expected"/>'s length and returns what arrived (to compare with it).</summary>
    public async Task<string> ReceiveAsync(string expected)
    {
        var buf = new byte[Encoding.UTF8.GetByteCount(expected)];
        int have = 0;
        while (have < buf.Length)
        {
            int n = await _peer!.ReceiveAsync(buf.AsMemory(have)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (n == 0)
            {
                break;
            }

            have += n;
        }

        return Encoding.UTF8.GetString(buf, 0, have);
    }

    public async Task SendAsync(string text) => await _peer!.SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Closes like a killed process whose kernel resets the connection (RST, unread data dropped).</summary>
    public void Reset()
    {
        _peer!.LingerState = new LingerOption(true, 0);
        _peer.Close();
    }

    /// <summary>Closes in an orderly way (FIN), as a process that exits does for data already read.</summary>
    public void Close() => _peer!.Close();

    public void Dispose()
    {
        _peer?.Dispose();
        _listener.Dispose();
    }
}
