using System.Net;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using StackExchange.Redis;

namespace TierKv.Remote;

/// <summary>
/// One cluster node as the tier sees it: its own Polly pipeline (retry, then circuit breaker, then a per-attempt
/// timeout chosen by the call), so a dead or stalled node turns only its own slots into misses.
/// </summary>
internal sealed class RemoteNode
{
    /// <summary>Per-attempt timeout of the current call (lookup or value).</summary>
    internal static readonly ResiliencePropertyKey<TimeSpan> AttemptTimeout = new("tierkv.attempt_timeout");

    /// <summary>Set on calls that must not be retried (writes: the value would travel twice).</summary>
    internal static readonly ResiliencePropertyKey<bool> NoRetry = new("tierkv.no_retry");

    private readonly CircuitBreakerStateProvider _state = new();
    private readonly IServer? _lookup;
    private readonly IServer?[] _bulk;

    public RemoteNode(EndPoint? endPoint, IServer? lookup, IServer?[] bulk, RemoteTierOptions options, Action<string>? log)
    {
        EndPoint = endPoint;
        _lookup = lookup;
        _bulk = bulk;
        string name = endPoint?.ToString() ?? "(no owner)";
        var builder = new ResiliencePipelineBuilder();
        if (options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.Retries,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                ShouldHandle = static args => ValueTask.FromResult(
                    !args.Context.Properties.GetValue(NoRetry, false) && IsNodeFailure(args.Outcome.Exception)),
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = options.BreakerFailureRatio,
            MinimumThroughput = options.BreakerMinimumThroughput,
            SamplingDuration = options.BreakerSamplingDuration,
            BreakDuration = options.BreakDuration,
            StateProvider = _state,
            ShouldHandle = static args => ValueTask.FromResult(IsNodeFailure(args.Outcome.Exception)),
            OnOpened = args =>
            {
                log?.Invoke($"remote tier: node {name} failing ({args.Outcome.Exception?.GetType().Name}: {args.Outcome.Exception?.Message}); its chunks are misses for {args.BreakDuration.TotalMilliseconds:0} ms");
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                log?.Invoke($"remote tier: node {name} answers again");
                return ValueTask.CompletedTask;
            },
        });

        builder.AddTimeout(new TimeoutStrategyOptions
        {
            TimeoutGenerator = static args => ValueTask.FromResult(args.Context.Properties.GetValue(AttemptTimeout, TimeSpan.FromSeconds(1))),
        });

        Pipeline = builder.Build();
    }

    /// <summary>The node's address; null for keys whose slot has no known owner.</summary>
    public EndPoint? EndPoint { get; }

    /// <summary>Retry, breaker and timeout for calls to this node.</summary>
    public ResiliencePipeline Pipeline { get; }

    /// <summary>Whether the lookup connection to this node is up (a node that is down is a miss at once).</summary>
    public bool LookupConnected => _lookup is { IsConnected: true };

    /// <summary>Whether bulk connection <paramref name="index"/> to this node is up.</summary>
    public bool BulkConnected(int index) => _bulk[index] is { IsConnected: true };

    /// <summary>True while the node's circuit is open: calls would be rejected without being sent.</summary>
    public bool IsOpen => _state.CircuitState is CircuitState.Open or CircuitState.Isolated;

    /// <summary>Whether <paramref name="ex"/> says the node (not the caller) failed.</summary>
    internal static bool IsNodeFailure(Exception? ex) =>
        ex is RedisException or TimeoutRejectedException or TimeoutException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException;
}
