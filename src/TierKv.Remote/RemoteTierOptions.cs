using System.Globalization;
using System.Net;

namespace TierKv.Remote;

/// <summary>
/// Settings of a <see cref="RedisTier"/>: where the Redis-protocol cluster is, how its keys are named, and how long
/// the tier may wait before a slow or dead node becomes a miss. Bindable from configuration; call
/// <see cref="Validate"/> (the tier does) to get a message naming the bad setting.
/// </summary>
public sealed record RemoteTierOptions
{
    /// <summary>Longest accepted key prefix.</summary>
    public const int MaxKeyPrefixLength = 64;

    /// <summary>
    /// Seed endpoints as <c>HOST:PORT</c> (a cluster's other nodes are discovered from any one of them); a
    /// standalone server is one endpoint.
    /// </summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>Tier name in metrics and reports.</summary>
    public string Name { get; init; } = "remote";

    /// <summary>
    /// Readable namespace in front of every Redis key (<c>PREFIX:v1:{KEY}</c>), so operators can find, ACL
    /// (<c>~tierkv:*</c>) or drop TierKV's keys, and deployments sharing a cluster stay apart. No braces (the hash
    /// tag is TierKV's), no spaces.
    /// </summary>
    public string KeyPrefix { get; init; } = "tierkv";

    /// <summary>ACL user name, when the cluster requires one.</summary>
    public string? User { get; init; }

    /// <summary>Password, when the cluster requires one.</summary>
    public string? Password { get; init; }

    /// <summary>How long connecting may take at start; an unreachable cluster is all misses, not an error.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>One attempt of a batched existence check on one node.</summary>
    public TimeSpan LookupTimeout { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>One attempt of reading or writing one chunk value (up to the layout's chunk size).</summary>
    public TimeSpan ValueTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Upper bound of a whole lookup, retries included: when it passes, what has not answered is a miss. Must hold
    /// every attempt: <c>LookupTimeout × (Retries + 1) + RetryDelay × Retries</c>.
    /// </summary>
    public TimeSpan LookupBudget { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Retries of a failed lookup or read on the same node (writes are not retried: a lost write is only a later miss).</summary>
    public int Retries { get; init; } = 1;

    /// <summary>Pause before a retry.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Share of failed calls to one node, within <see cref="BreakerSamplingDuration"/>, that opens its circuit.</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    /// <summary>Calls to one node within the sampling window before its circuit may open.</summary>
    public int BreakerMinimumThroughput { get; init; } = 4;

    /// <summary>
    /// Window over which a node's failure ratio is measured. The successes of a healthy node count in the ratio until
    /// they leave the window, so a node that stalls after heavy use opens its circuit about one window later (each
    /// lookup is still bounded by the budget meanwhile).
    /// </summary>
    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an open circuit turns a node's calls into immediate misses before one probe is let through.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Connections per node for chunk values, apart from the one for lookups: a 32 MiB value in flight never sits in
    /// front of an existence check.
    /// </summary>
    public int BulkConnections { get; init; } = 1;

    /// <summary>Optional time to live of stored chunks; null leaves expiry to the cluster's eviction policy.</summary>
    public TimeSpan? Expiry { get; init; }

    /// <summary>Capacity reported by the tier (informational; the cluster's <c>maxmemory</c> is what binds).</summary>
    public long CapacityBytes { get; init; }

    /// <summary>Options for a comma-separated endpoint list (<c>HOST:PORT[,HOST:PORT...]</c>), other settings default.</summary>
    public static RemoteTierOptions FromEndpoints(string endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var list = endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new RemoteTierOptions { Endpoints = list };
    }

    /// <summary>The worst case a lookup can take with these settings.</summary>
    public TimeSpan WorstCaseLookup => (LookupTimeout * (Retries + 1)) + (RetryDelay * Retries);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad setting and what to do.</summary>
    public void Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0)
        {
            throw new ArgumentException("RemoteTierOptions.Endpoints is empty: give at least one HOST:PORT of the Redis, Valkey or Garnet cluster (e.g. 127.0.0.1:7001).", nameof(Endpoints));
        }

        foreach (var e in Endpoints)
        {
            if (!TryParseEndpoint(e, out _, out _))
            {
                throw new ArgumentException($"RemoteTierOptions.Endpoints: '{e}' is not HOST:PORT with a port in [1, 65535].", nameof(Endpoints));
            }
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("RemoteTierOptions.Name must not be empty.", nameof(Name));
        }

        if (string.IsNullOrEmpty(KeyPrefix) || KeyPrefix.Length > MaxKeyPrefixLength)
        {
            throw new ArgumentException($"RemoteTierOptions.KeyPrefix must be 1 to {MaxKeyPrefixLength} characters; got '{KeyPrefix}'.", nameof(KeyPrefix));
        }

        foreach (char c in KeyPrefix)
        {
            if (c is '{' or '}' || c <= ' ' || c > '~')
            {
                throw new ArgumentException($"RemoteTierOptions.KeyPrefix '{KeyPrefix}' contains '{c}': use printable ASCII without spaces or braces (braces would change the cluster hash tag and put every chunk in one slot).", nameof(KeyPrefix));
            }
        }

        AtLeast(ConnectTimeout, TimeSpan.FromMilliseconds(10), nameof(ConnectTimeout));
        AtLeast(LookupTimeout, TimeSpan.FromMilliseconds(10), nameof(LookupTimeout));
        AtLeast(ValueTimeout, TimeSpan.FromMilliseconds(10), nameof(ValueTimeout));
        AtLeast(LookupBudget, TimeSpan.FromMilliseconds(10), nameof(LookupBudget));
        if (Retries is < 0 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "RemoteTierOptions.Retries must be in [0, 10].");
        }

        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RemoteTierOptions.RetryDelay must be in [0, 10 s].");
        }

        if (WorstCaseLookup > LookupBudget)
        {
            throw new ArgumentException(
                $"RemoteTierOptions.LookupBudget {LookupBudget.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms cannot hold LookupTimeout × (Retries + 1) + RetryDelay × Retries = {WorstCaseLookup.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms: raise the budget, or lower the timeout or the retries.",
                nameof(LookupBudget));
        }

        if (!(BreakerFailureRatio > 0 && BreakerFailureRatio <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(BreakerFailureRatio), BreakerFailureRatio, "RemoteTierOptions.BreakerFailureRatio must be in (0, 1].");
        }

        if (BreakerMinimumThroughput < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(BreakerMinimumThroughput), BreakerMinimumThroughput, "RemoteTierOptions.BreakerMinimumThroughput must be at least 2.");
        }

        AtLeast(BreakerSamplingDuration, TimeSpan.FromMilliseconds(500), nameof(BreakerSamplingDuration));
        AtLeast(BreakDuration, TimeSpan.FromMilliseconds(500), nameof(BreakDuration));
        if (BulkConnections is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(BulkConnections), BulkConnections, "RemoteTierOptions.BulkConnections must be in [1, 16].");
        }

        if (Expiry is { } ttl && ttl < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(Expiry), ttl, "RemoteTierOptions.Expiry must be at least 1 s, or null for none.");
        }

        if (CapacityBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CapacityBytes), CapacityBytes, "RemoteTierOptions.CapacityBytes must not be negative.");
        }
    }

    /// <summary>Splits <c>HOST:PORT</c> (IPv6 as <c>[::1]:PORT</c>).</summary>
    public static bool TryParseEndpoint(string? endpoint, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return false;
        }

        int colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || colon == endpoint.Length - 1)
        {
            return false;
        }

        host = endpoint[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (!IPAddress.TryParse(host[1..^1], out _))
            {
                return false;
            }
        }
        else if (host.Contains(':', StringComparison.Ordinal) || host.Any(char.IsWhiteSpace))
        {
            return false;
        }

        return int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }

    private static void AtLeast(TimeSpan value, TimeSpan min, string name)
    {
        if (value < min || value > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(name, value, $"RemoteTierOptions.{name} must be in [{min.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms, 10 min].");
        }
    }
}
