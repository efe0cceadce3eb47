using System.Diagnostics;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;
using TierKv.Chunks;
using TierKv.Keys;

namespace TierKv.Remote;

/// <summary>
/// One command on one node, the way every operation of the tier sends it: through the node's Polly pipeline with an
/// attempt timeout (retried, or not for writes), the client's task abandoned safely when the attempt gives up, and a
/// failure counted, logged once and turned into a miss. The caller's own cancellation is rethrown, never counted.
/// </summary>
public sealed partial class RedisTier
{
    /// <summary>
    /// Sends <paramref name="send"/> on <paramref name="node"/>; a failure is recorded under
    /// <paramref name="operation"/> and comes back as <c>Ok == false</c>.
    /// </summary>
    private async ValueTask<(bool Ok, TResult Result)> CallAsync<TState, TResult>(
        RemoteNode node, string operation, TimeSpan attemptTimeout, bool retry, TState state,
        Func<TState, Task<TResult>> send, Action<Task<TResult>>? abandon, CancellationToken cancellationToken)
    {
        var outcome = await RunAsync(node, attemptTimeout, retry, state, send, abandon, cancellationToken).ConfigureAwait(false);
        if (outcome.Exception is { } error)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RecordFailure(error, operation);
            return (false, default!);
        }

        return (true, outcome.Result!);
    }

    /// <summary>
    /// Runs <paramref name="send"/> on <paramref name="node"/>'s pipeline, each attempt bounded by
    /// <paramref name="attemptTimeout"/>; an attempt that gives up hands the client's task to <paramref name="abandon"/>
    /// (to release or observe what it still returns). Exceptions come back in the outcome, never thrown.
    /// </summary>
    private static async ValueTask<Outcome<TResult>> RunAsync<TState, TResult>(
        RemoteNode node, TimeSpan attemptTimeout, bool retry, TState state,
        Func<TState, Task<TResult>> send, Action<Task<TResult>>? abandon, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(RemoteNode.AttemptTimeout, attemptTimeout);
        if (!retry)
        {
            context.Properties.Set(RemoteNode.NoRetry, true);
        }

        try
        {
            return await node.Pipeline.ExecuteOutcomeAsync(
                static async (ctx, s) =>
                {
                    Task<TResult>? pending = null;
                    try
                    {
                        pending = s.Send(s.State);
                        return Outcome.FromResult(await pending.WaitAsync(ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        if (pending is not null)
                        {
                            s.Abandon?.Invoke(pending);
                        }

                        return Outcome.FromException<TResult>(ex);
                    }
                },
                context,
                (Send: send, Abandon: abandon, State: state)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static void Observe(Task pending) =>
        pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private void RecordUnavailable(string operation)
    {
        // Counted like any failure, without waiting for a connection the client is still trying to make.
        Interlocked.Increment(ref Counters.Failures);
        _metrics?.RecordIoError(_tierCounters!, operation);
        if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
        {
            _log?.Invoke($"remote tier: {operation} found the owning node disconnected; served as a miss (further failures are counted, and logged when a node's circuit opens or closes)");
        }
    }

    private void RecordFailure(Exception error, string operation)
    {
        if (error is BrokenCircuitException)
        {
            Interlocked.Increment(ref Counters.Rejected);
        }
        else
        {
            Interlocked.Increment(ref Counters.Failures);
            if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
            {
                _log?.Invoke($"remote tier: {operation} failed ({error.GetType().Name}: {error.Message}); served as a miss (further failures are counted, and logged when a node's circuit opens or closes)");
            }
        }

        if (_metrics is not null)
        {
            _metrics.RecordIoError(_tierCounters!, operation);
        }
    }

    private void RecordDamage(ChunkKey key, RedisKey redisKey, ChunkDamage damage)
    {
        Interlocked.Increment(ref Counters.Damaged);
        _metrics?.RecordChecksumFailure(_tierCounters!, damage.ToString());
        if (Interlocked.Exchange(ref _damageLogged, 1) == 0)
        {
            _log?.Invoke($"remote tier: chunk {key} failed verification ({damage}); served as a miss and deleted (further damage is counted, not logged)");
        }

        // Drop the bad value so the next writer can store a good one (writes are SET NX).
        try
        {
            _lookupDb.KeyDelete(redisKey, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            Debug.WriteLine("remote tier: could not delete a damaged chunk; it stays a miss");
        }
    }
}
