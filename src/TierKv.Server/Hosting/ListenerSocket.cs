using System.Net.Sockets;

namespace TierKv.Server.Hosting;

/// <summary>Socket options of the RESP listener.</summary>
internal static class ListenerSocket
{
    /// <summary>
    /// Lets a restarted server bind its port while connections of the old one linger in TIME_WAIT, and nothing more:
    /// <see cref="SocketOptionName.ReuseAddress"/> also sets SO_REUSEPORT on Linux and macOS, with which a second
    /// <c>tierkv serve</c> on the same port binds too and the kernel splits the clients between the two. Plain
    /// SO_REUSEADDR on Unix never lets two sockets listen on one port; Windows needs no option for TIME_WAIT.
    /// </summary>
    public static void AllowRebind(Socket listener)
    {
        if (OperatingSystem.IsLinux())
        {
            listener.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            listener.SetRawSocketOption(0xffff /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
    }
}
