using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TierKv.Metrics;
using TierKv.Server.Connections;
using TierKv.Server.Hosting;
using TierKv.Tracing;

namespace TierKv.Server;

/// <summary>
/// The RESP listener of <c>tierkv serve</c>: accepts clients up to <see cref="ServerOptions.MaxClients"/>, runs one
/// <see cref="RespConnection"/> loop each over the tenants' stores, disconnects slow senders, and shuts down
/// gracefully (in-flight commands finish and are answered; nothing new starts).
/// </summary>
public sealed class RespServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, RespConnection> _connections = new();
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly bool _ownsMetrics;
    private Socket? _listener;
    private Task? _acceptLoop;
    private Task? _monitor;
    private long _nextId;
    private long _served;
    private int _draining;
    private int _disposed;

    /// <summary>Builds the tenants' stores; call <see cref="Start"/> to listen.</summary>
    public RespServer(ServerOptions options, ILogger<RespServer>? logger = null, TierKvMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Logger = logger ?? (ILogger)NullLogger.Instance;
        _ownsMetrics = metrics is null;
        Metrics = metrics ?? new TierKvMetrics();
        Tenants = new TenantDirectory(options, Metrics, m => ServerLog.RemoteTier(Logger, m));
        Instruments = new ServerInstruments(Metrics.Meter, () => _connections.Count, Tenants.All);
        Rebalancer = options.Rebalance.Enabled ? new TenantRebalancer(Tenants, Logger) : null;
        Certificate = LoadCertificate(options.Tls);
        Trace = string.IsNullOrEmpty(options.RecordTrace) ? null : AccessTraceWriter.Create(options.RecordTrace, Tenants.Layout.TokensPerChunk);
        StartTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>The settings in force.</summary>
    public ServerOptions Options { get; }

    /// <summary>The store metrics (the <c>TierKv</c> meter).</summary>
    public TierKvMetrics Metrics { get; }

    /// <summary>Where the listener is bound (after <see cref="Start"/>).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>This server's node id in CLUSTER replies: 40 hex digits, new for each process (as a Redis node's is per cluster join).</summary>
    internal string NodeId { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20));

    /// <summary>Clients connected now.</summary>
    public int ConnectedClients => _connections.Count;

    /// <summary>Connections accepted since start.</summary>
    public long ConnectionsServed => Interlocked.Read(ref _served);

    /// <summary>True once shutdown has begun.</summary>
    public bool Draining => Volatile.Read(ref _draining) != 0;

    internal TenantDirectory Tenants { get; }

    /// <summary>Connections in the middle of receiving a frame.</summary>
    internal int FramesInFlight => _connections.Values.Count(c => c.FrameStarted != 0);

    internal ILogger Logger { get; }

    /// <summary>DRAM shared among tenants by gain (<see cref="ServerOptions.Rebalance"/>), when on.</summary>
    internal TenantRebalancer? Rebalancer { get; }

    internal ServerInstruments Instruments { get; }

    internal X509Certificate2? Certificate { get; }

    internal long StartTimestamp { get; }

    /// <summary>The access trace being recorded (<see cref="ServerOptions.RecordTrace"/>), if any.</summary>
    internal AccessTraceWriter? Trace { get; }

    /// <summary>Binds and starts accepting clients.</summary>
    public void Start()
    {
        var address = IPAddress.Parse(Options.Bind);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            ListenerSocket.AllowRebind(listener);
            listener.Bind(new IPEndPoint(address, Options.Port));
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;

        // Large values are moved with blocking socket calls on pool threads: keep enough threads ready that a few
        // slow transfers never starve command processing while the pool grows.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, Math.Min(Options.MaxClients, 64)), io);
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        ServerLog.Listening(Logger, EndPoint.ToString(), Certificate is null ? "" : "+TLS", Tenants.All.Count, Tenants.AuthRequired ? "on" : "off", Tenants.All[0].Dram.CapacityBytes, Options.EffectiveSlotBytes, string.IsNullOrEmpty(Options.DataDir) ? "none" : Options.DataDir, Options.HasRemote ? string.Join(",", Options.Remote.Endpoints) : "none");
        _acceptLoop = AcceptLoopAsync();
        _monitor = MonitorAsync();
        Rebalancer?.Start(_stop.Token);
    }

    /// <summary>
    /// Graceful shutdown: stops accepting, lets every connection finish the command it is executing (a value being
    /// received is stored and acknowledged), then closes them; after <see cref="ServerOptions.ShutdownTimeoutSeconds"/>
    /// the rest are closed without their reply (those writes were never acknowledged).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _draining, 1) != 0)
        {
            await Task.WhenAll(_running.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        _listener?.Dispose();
        ServerLog.Draining(Logger, _connections.Count, Options.ShutdownTimeoutSeconds);
        foreach (var c in _connections.Values)
        {
            c.RequestStop();
        }

        var all = Task.WhenAll(_running.Values);
        var timeout = Task.Delay(TimeSpan.FromSeconds(Options.ShutdownTimeoutSeconds), cancellationToken);
        if (await Task.WhenAny(all, timeout).ConfigureAwait(false) != all)
        {
            ServerLog.DrainTimeout(Logger, _connections.Count);
            foreach (var c in _connections.Values)
            {
                c.Abort();
            }

            await all.ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        if (_monitor is not null)
        {
            await _monitor.ConfigureAwait(false);
        }

        if (Rebalancer is not null)
        {
            await Rebalancer.StopAsync().ConfigureAwait(false);
        }

        await ServerStoreShutdown.FlushAsync(Tenants).ConfigureAwait(false);
        ServerLog.Stopped(Logger, ConnectionsServed);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        Tenants.Dispose();
        Trace?.Dispose();
        Certificate?.Dispose();
        _stop.Dispose();
        if (_ownsMetrics)
        {
            Metrics.Dispose();
        }
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (!Draining)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                if (Draining || _stop.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            if (_connections.Count >= Options.MaxClients || Draining)
            {
                Instruments.Rejected();
                ServerLog.TooManyClients(Logger, socket.RemoteEndPoint?.ToString() ?? "?", _connections.Count);
                _ = RefuseAsync(socket);
                continue;
            }

            socket.NoDelay = true;
            long id = Interlocked.Increment(ref _nextId);
            Interlocked.Increment(ref _served);
            Instruments.Accepted();
            var conn = new RespConnection(this, socket, id);
            _connections[id] = conn;
            _running[id] = RunConnectionAsync(conn);
        }
    }

    private async Task RunConnectionAsync(RespConnection conn)
    {
        // Leave the accept loop at once; the connection runs on the thread pool.
        await Task.Yield();
        try
        {
            await conn.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(conn.Id, out _);
            _running.TryRemove(conn.Id, out _);
        }
    }

    private static async Task RefuseAsync(Socket socket)
    {
        try
        {
            await socket.SendAsync("-ERR max number of clients reached\r\n"u8.ToArray()).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The client left first.
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>Closes connections whose current frame has been arriving, or whose current reply has been unread, for longer than the frame timeout.</summary>
    private async Task MonitorAsync()
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(Options.FrameTimeoutSeconds * 250, 100, 1000));
        using var timer = new PeriodicTimer(period);
        long limit = Options.FrameTimeoutSeconds * Stopwatch.Frequency;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                long now = Stopwatch.GetTimestamp();
                foreach (var c in _connections.Values)
                {
                    long started = c.FrameStarted;
                    long sending = c.SendStarted;
                    if (started != 0 && now - started > limit)
                    {
                        Instruments.SlowSender();
                        ServerLog.SlowSender(Logger, c.Id, c.Remote, Options.FrameTimeoutSeconds);
                        c.Abort();
                    }
                    else if (sending != 0 && now - sending > limit)
                    {
                        // A reply nobody reads: free the client's pinned value and socket buffers.
                        Instruments.SlowSender();
                        ServerLog.SlowReader(Logger, c.Id, c.Remote, Options.FrameTimeoutSeconds);
                        c.Abort();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
    }

    private static X509Certificate2? LoadCertificate(TlsOptions tls)
    {
        if (!tls.Enabled)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(tls.KeyPath))
        {
            return X509Certificate2.CreateFromPemFile(tls.CertificatePath!, tls.KeyPath);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath!, tls.Password);
    }
}
