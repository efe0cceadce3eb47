using System.Net;
using TierKv.Remote;

namespace TierKv.Server;

/// <summary>
/// Settings of <c>tierkv serve</c>, bound from the <c>Server</c> section of the configuration (file, environment
/// variables <c>TIERKV_Server__Port</c>, command line). <see cref="Validate"/> names the bad setting.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Server";

    /// <summary>Address the RESP listener binds; loopback unless tenants (authentication) are configured.</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>RESP port (0: any free port).</summary>
    public int Port { get; init; } = 6380;

    /// <summary>Address of the HTTP endpoint serving <c>/metrics</c> and <c>/health</c>; defaults to <see cref="Bind"/>.</summary>
    public string? MetricsBind { get; init; }

    /// <summary>HTTP port of <c>/metrics</c> and <c>/health</c> (0: any free port; -1: no HTTP endpoint).</summary>
    public int MetricsPort { get; init; } = 9464;

    /// <summary>Most connected clients; more are answered with an error and closed.</summary>
    public int MaxClients { get; init; } = 1024;

    /// <summary>Largest bulk string (a value) accepted.</summary>
    public long MaxBulkBytes { get; init; } = 512L << 20;

    /// <summary>Most arguments in one command.</summary>
    public int MaxArrayLength { get; init; } = 4096;

    /// <summary>Longest inline command line.</summary>
    public int MaxLineBytes { get; init; } = 64 << 10;

    /// <summary>Most bytes of a command apart from its value (keys, token lists): the per-client input buffer bound.</summary>
    public int MaxCommandBytes { get; init; } = 4 << 20;

    /// <summary>Per-client output buffer; replies that do not fit are flushed first, values are sent from their slot.</summary>
    public int OutputBufferBytes { get; init; } = 64 << 10;

    /// <summary>Seconds a started frame may take to arrive completely (slow senders are disconnected).</summary>
    public int FrameTimeoutSeconds { get; init; } = 30;

    /// <summary>Seconds graceful shutdown waits for in-flight commands before closing connections.</summary>
    public int ShutdownTimeoutSeconds { get; init; } = 10;

    /// <summary>Bytes of the DRAM tier (per tenant unless a tenant sets its quota).</summary>
    public long DramBytes { get; init; } = 4L << 30;

    /// <summary>Largest value (DRAM slot size); 0: one chunk of <see cref="Model"/> plus its 64-byte header.</summary>
    public int SlotBytes { get; init; }

    /// <summary>
    /// DRAM of the small-value area (per tenant, taken from <see cref="DramBytes"/>): values whose record fits
    /// <see cref="SmallRecordBytes"/> (LMCache's 28-byte metadata keys, say) live there instead of taking a chunk-sized
    /// slot. -1: a 32nd of the DRAM tier; 0: no small-value area.
    /// </summary>
    public long SmallValueBytes { get; init; } = -1;

    /// <summary>Record size of the small-value area (a multiple of 4096): header, name and value must fit.</summary>
    public int SmallRecordBytes { get; init; } = 4096;

    /// <summary>Eviction policy of the DRAM and SSD tiers (a name of <see cref="TierKv.Eviction.EvictionPolicies"/>; TierKV's default policy unless set).</summary>
    public string EvictionPolicy { get; init; } = TierKv.Eviction.EvictionPolicies.Default;

    /// <summary>
    /// Live miss-ratio curves of each DRAM tier (docs/operations.md, "Live curves"): the sizes and policies estimated
    /// and the memory they may take; <c>Curves:Enabled false</c> turns them off.
    /// </summary>
    public ServerCurveOptions Curves { get; init; } = new();

    /// <summary>DRAM shared among tenants by gain (off by default; docs/operations.md, "DRAM shared among tenants").</summary>
    public ServerRebalanceOptions Rebalance { get; init; } = new();

    /// <summary>Model shape whose layout token lookups use (<c>KV.LOOKUP TOKENS</c>): llama3.2-1b, llama3-8b, llama3-70b.</summary>
    public string Model { get; init; } = "llama3-8b";

    /// <summary>Folder of the SSD tier; none when empty.</summary>
    public string? DataDir { get; init; }

    /// <summary>Bytes of the SSD tier (per tenant).</summary>
    public long SsdBytes { get; init; } = 16L << 30;

    /// <summary>With an SSD tier: copy every stored value to the SSD in the background at once (true), or only when DRAM evicts it (false).</summary>
    public bool SsdWriteThrough { get; init; } = true;

    /// <summary>
    /// The Redis/Valkey/Garnet cluster under the DRAM and SSD tiers (<c>tierkv serve --remote HOST:PORT,...</c>); off
    /// when it names no endpoints. A value the node misses is read from it, new values are shared with it, and a dead
    /// or stalled cluster is a miss, never a failed command (docs/remote-tier.md for every setting).
    /// </summary>
    public RemoteTierOptions Remote { get; init; } = new();

    /// <summary>Whether <see cref="Remote"/> names a cluster.</summary>
    public bool HasRemote => Remote.Endpoints.Count > 0;

    /// <summary>TLS; off when no certificate is given.</summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary>
    /// Payload bytes of a tenant's values that <c>KV.PIN</c> may keep pinned (each tenant's own setting overrides it);
    /// null: half the tenant's DRAM.
    /// </summary>
    public long? MaxPinnedBytes { get; init; }

    /// <summary>Tenants and their tokens; when empty, authentication is off and one default tenant serves everyone.</summary>
    public IList<TenantOptions> Tenants { get; init; } = [];

    /// <summary>
    /// Run socket completions on the socket engine's threads (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>,
    /// set by <c>tierkv serve</c> before any socket exists): saves a thread hop per command, which is most of a
    /// lookup's round trip. Large values are moved on pool threads either way.
    /// </summary>
    public bool InlineSocketCompletions { get; init; } = true;

    /// <summary>Path of an access trace to record (every lookup: time, tenant number, tokens, chunk keys), when set.</summary>
    public string? RecordTrace { get; init; }

    /// <summary>The layout token lookups use.</summary>
    public KvLayout Layout => ModelShapes.Get(Model).Layout;

    /// <summary>The effective slot size.</summary>
    public int EffectiveSlotBytes => SlotBytes > 0 ? SlotBytes : Layout.ChunkBytes + 64;

    /// <summary>Bytes of one stored record (value plus prefix, 4 KiB-aligned): the slot size of every tier.</summary>
    internal int RecordBytes => ValueRecord.RecordBytes(EffectiveSlotBytes);

    /// <summary>The small-value area of a DRAM tier of <paramref name="dramBytes"/>: 0 when off or when it would leave no room for one chunk.</summary>
    internal long SmallAreaBytes(long dramBytes)
    {
        long small = SmallValueBytes >= 0 ? SmallValueBytes : dramBytes / 32 / 4096 * 4096;
        return small < SmallRecordBytes * 16L || SmallRecordBytes >= RecordBytes || dramBytes - small < RecordBytes ? 0 : small;
    }

    internal FrameLimits Limits => new(MaxArrayLength, MaxBulkBytes, MaxLineBytes, LargeArgBytes, MaxCommandBytes);

    /// <summary>Arguments above this size are streamed (values), not buffered.</summary>
    internal const int LargeArgBytes = 16 << 10;

    /// <summary>Throws with a message that names the bad setting.</summary>
    public void Validate()
    {
        if (!IPAddress.TryParse(Bind, out var bind))
        {
            throw new ArgumentException($"Server:Bind '{Bind}' is not an IP address (use 127.0.0.1, ::1 or an interface address).");
        }

        if (!IPAddress.IsLoopback(bind) && Tenants.Count == 0)
        {
            throw new ArgumentException($"Server:Bind {Bind} is not a loopback address and no tenants (tokens) are configured: refusing to serve without authentication. Configure Server:Tenants or bind 127.0.0.1.");
        }

        if (MetricsBind is not null && !IPAddress.TryParse(MetricsBind, out _))
        {
            throw new ArgumentException($"Server:MetricsBind '{MetricsBind}' is not an IP address.");
        }

        Range(Port, 0, 65535, nameof(Port));
        Range(MetricsPort, -1, 65535, nameof(MetricsPort));
        Range(MaxClients, 1, 1_000_000, nameof(MaxClients));
        Range(MaxArrayLength, 1, 1 << 20, nameof(MaxArrayLength));
        Range(MaxLineBytes, 64, 1 << 24, nameof(MaxLineBytes));
        Range(MaxCommandBytes, 1024, 1 << 30, nameof(MaxCommandBytes));
        Range(OutputBufferBytes, 16 << 10, 1 << 26, nameof(OutputBufferBytes));
        Range(FrameTimeoutSeconds, 1, 86400, nameof(FrameTimeoutSeconds));
        Range(ShutdownTimeoutSeconds, 0, 3600, nameof(ShutdownTimeoutSeconds));
        if (OutputBufferBytes < (MaxArrayLength * 6L) + 4096)
        {
            throw new ArgumentException($"Server:OutputBufferBytes {OutputBufferBytes} must hold a reply of one integer per argument ({(MaxArrayLength * 6L) + 4096} bytes for Server:MaxArrayLength {MaxArrayLength}).");
        }

        if (MaxBulkBytes < 1 || MaxBulkBytes > int.MaxValue)
        {
            throw new ArgumentException($"Server:MaxBulkBytes must be in [1, {int.MaxValue}]; got {MaxBulkBytes}.");
        }

        _ = ModelShapes.Get(Model);
        if (HasRemote)
        {
            try
            {
                Remote.Validate();
            }
            catch (ArgumentException e)
            {
                string message = e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
                throw new ArgumentException(message.Replace("RemoteTierOptions.", "Server:Remote:", StringComparison.Ordinal), e);
            }
        }

        if (SlotBytes < 0)
        {
            throw new ArgumentException($"Server:SlotBytes must be positive (or 0 for one chunk of the model); got {SlotBytes}.");
        }

        if (DramBytes < EffectiveSlotBytes)
        {
            throw new ArgumentException($"Server:DramBytes {DramBytes} must hold at least one slot of {EffectiveSlotBytes} bytes.");
        }

        // Refused here, before the tiers allocate: more DRAM than the machine has fails later as an out-of-memory crash.
        // The limit is what the runtime may use: physical memory, or the container's limit where lower.
        long dramTotal = Tenants.Count == 0 ? DramBytes : 0;
        foreach (var t in Tenants)
        {
            // With rebalancing a tenant's pool is allocated at its maximum.
            dramTotal = SaturatingAdd(dramTotal, Rebalance.Enabled ? Math.Max(t.MaxQuotaBytes ?? 0, t.QuotaBytes ?? DramBytes) : t.QuotaBytes ?? DramBytes);
        }

        long memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (memory > 0 && dramTotal > memory)
        {
            throw new ArgumentException($"Server:DramBytes: the DRAM tier{(Tenants.Count > 1 ? "s of all tenants" : "")} would take {dramTotal} bytes, more than this machine's memory ({memory} bytes).");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in Tenants)
        {
            t.Validate();
            if (!names.Add(t.Name))
            {
                throw new ArgumentException($"Server:Tenants names '{t.Name}' twice; tenant names must be unique.");
            }

            if (!tokens.Add(t.Token))
            {
                throw new ArgumentException($"Server:Tenants: tenant '{t.Name}' reuses another tenant's token; tokens must be unique.");
            }

            if (t.QuotaBytes is { } q && q < EffectiveSlotBytes)
            {
                throw new ArgumentException($"Server:Tenants: the quota of tenant '{t.Name}' ({q} bytes) is smaller than one slot ({EffectiveSlotBytes} bytes).");
            }

            long quota = t.QuotaBytes ?? DramBytes;
            if ((t.MinQuotaBytes ?? quota) > quota || (t.MaxQuotaBytes ?? quota) < quota || (t.MinQuotaBytes ?? quota) < EffectiveSlotBytes)
            {
                throw new ArgumentException($"Server:Tenants: tenant '{t.Name}' needs one slot ({EffectiveSlotBytes} bytes) <= MinQuotaBytes ({t.MinQuotaBytes}) <= QuotaBytes ({quota}) <= MaxQuotaBytes ({t.MaxQuotaBytes}).");
            }
        }

        if (MaxPinnedBytes is < 0)
        {
            throw new ArgumentException($"Server:MaxPinnedBytes must not be negative (0 forbids pins); got {MaxPinnedBytes}.");
        }

        if (SmallRecordBytes < 4096 || SmallRecordBytes % 4096 != 0)
        {
            throw new ArgumentException($"Server:SmallRecordBytes must be a positive multiple of 4096; got {SmallRecordBytes}.");
        }

        if (SmallValueBytes >= 0 && SmallValueBytes > DramBytes / 2)
        {
            throw new ArgumentException($"Server:SmallValueBytes {SmallValueBytes} must be at most half of Server:DramBytes ({DramBytes}); -1 picks a 32nd.");
        }

        Tls.Validate();
        Curves.ToEstimatorOptions()?.Validate();
        if (Rebalance.Enabled)
        {
            Rebalance.Validate();
            if (Tenants.Count < 2 || !Curves.Enabled)
            {
                throw new ArgumentException("Server:Rebalance:Enabled needs two or more Server:Tenants and Server:Curves:Enabled (the rebalancer reads each tenant's live curve).");
            }
        }
    }

    private static long SaturatingAdd(long a, long b) => b > long.MaxValue - a ? long.MaxValue : a + b;

    private static void Range(long value, long min, long max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"Server:{name} must be in [{min}, {max}]; got {value}.");
        }
    }
}
