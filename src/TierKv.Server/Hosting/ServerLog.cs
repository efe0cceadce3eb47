using Microsoft.Extensions.Logging;

namespace TierKv.Server.Hosting;

/// <summary>The server's structured log events.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "TierKV listening on {Endpoint} (RESP{Tls}), {Tenants} tenant(s), auth {Auth}, DRAM {DramBytes} bytes per tenant in slots of {SlotBytes} bytes, SSD {Ssd}, remote {Remote}")]
    public static partial void Listening(ILogger logger, string endpoint, string tls, int tenants, string auth, long dramBytes, int slotBytes, string ssd, string remote);

    [LoggerMessage(2, LogLevel.Debug, "Connection {Id} from {Remote} dropped: {Reason}")]
    public static partial void ConnectionDropped(ILogger logger, long id, string remote, string reason);

    [LoggerMessage(3, LogLevel.Error, "Connection {Id} from {Remote} failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception ex, long id, string remote);

    [LoggerMessage(4, LogLevel.Warning, "Refused a connection from {Remote}: {Clients} clients connected (Server:MaxClients)")]
    public static partial void TooManyClients(ILogger logger, string remote, int clients);

    [LoggerMessage(5, LogLevel.Warning, "Disconnected slow sender {Id} ({Remote}): a frame took longer than {Seconds} s (Server:FrameTimeoutSeconds)")]
    public static partial void SlowSender(ILogger logger, long id, string remote, int seconds);

    [LoggerMessage(20, LogLevel.Warning, "Disconnected slow reader {Id} ({Remote}): a reply stayed unread for longer than {Seconds} s (Server:FrameTimeoutSeconds)")]
    public static partial void SlowReader(ILogger logger, long id, string remote, int seconds);

    [LoggerMessage(6, LogLevel.Information, "Shutting down: draining {Connections} connection(s), up to {Seconds} s")]
    public static partial void Draining(ILogger logger, int connections, int seconds);

    [LoggerMessage(7, LogLevel.Warning, "Shutdown timeout: closing {Connections} connection(s) with commands still in flight")]
    public static partial void DrainTimeout(ILogger logger, int connections);

    [LoggerMessage(8, LogLevel.Information, "Stopped; {Connections} connection(s) served")]
    public static partial void Stopped(ILogger logger, long connections);

    [LoggerMessage(9, LogLevel.Warning, "Authentication failed from connection {Id} ({Remote})")]
    public static partial void AuthFailed(ILogger logger, long id, string remote);

    [LoggerMessage(22, LogLevel.Information, "Rebalanced {Bytes} bytes of DRAM from tenant {From} (estimated loss {LossPerSlot:0.######} of the summed hit ratio per slot) to tenant {To} (gain {GainPerSlot:0.######}); now {FromBytes} and {ToBytes} bytes")]
    public static partial void Rebalanced(ILogger logger, long bytes, string from, string to, double lossPerSlot, double gainPerSlot, long fromBytes, long toBytes);

    [LoggerMessage(21, LogLevel.Warning, "Remote tier: {Message}")]
    public static partial void RemoteTier(ILogger logger, string message);
}
