using StackExchange.Redis;
using TierKv.Keys;

namespace TierKv.Remote;

/// <summary>Existence checks: a request's keys grouped by owning node, one pipelined batch per node, within the lookup budget.</summary>
public sealed partial class RedisTier
{
    /// <inheritdoc />
    public async ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        if (present.Length < n)
        {
            throw new ArgumentException($"present has {present.Length} entries for {n} keys.", nameof(present));
        }

        present.Span[..n].Clear();
        if (n == 0)
        {
            return;
        }

        Interlocked.Add(ref Counters.ExistsKeys, n);

        // Group the keys by owning node, so each node gets one pipelined batch: one round trip per node.
        var redisKeys = new RedisKey[n];
        var nodeOf = new int[n];
        var nodes = new List<RemoteNode>(4);
        var span = keys.Span;
        for (int i = 0; i < n; i++)
        {
            redisKeys[i] = _scheme.KeyFor(span[i]);
            var node = NodeFor(redisKeys[i]);
            int j = nodes.IndexOf(node);
            if (j < 0)
            {
                nodes.Add(node);
                j = nodes.Count - 1;
            }

            nodeOf[i] = j;
        }

        // Cut the lookup a little before the budget, so finishing up (continuations on a busy machine) stays inside it.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(20).Ticks, _options.LookupBudget.Ticks / 10));
        budget.CancelAfter(_options.LookupBudget - margin);
        var tasks = new Task[nodes.Count];
        for (int j = 0; j < nodes.Count; j++)
        {
            tasks[j] = ExistsOnNodeAsync(nodes[j], j, redisKeys, nodeOf, present, budget.Token, cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task ExistsOnNodeAsync(RemoteNode node, int nodeIndex, RedisKey[] keys, int[] nodeOf, Memory<bool> present, CancellationToken budget, CancellationToken caller)
    {
        int count = 0;
        foreach (int j in nodeOf)
        {
            if (j == nodeIndex)
            {
                count++;
            }
        }

        if (!node.LookupConnected)
        {
            RecordUnavailable("exists");
            return;
        }

        var indices = new int[count];
        for (int i = 0, k = 0; i < nodeOf.Length; i++)
        {
            if (nodeOf[i] == nodeIndex)
            {
                indices[k++] = i;
            }
        }

        var outcome = await RunAsync(
            node,
            _options.LookupTimeout,
            retry: true,
            (Db: _lookupDb, Keys: keys, Indices: indices),
            static s =>
            {
                var batch = s.Db.CreateBatch();
                var answers = new Task<bool>[s.Indices.Length];
                for (int k = 0; k < answers.Length; k++)
                {
                    answers[k] = batch.KeyExistsAsync(s.Keys[s.Indices[k]]);
                }

                batch.Execute();
                return Task.WhenAll(answers);
            },
            Observe,
            budget).ConfigureAwait(false);
        if (outcome.Result is { } answers)
        {
            // Filled only once the attempt succeeded: an abandoned batch never writes into the caller's buffer.
            var p = present.Span;
            for (int k = 0; k < answers.Length; k++)
            {
                p[indices[k]] = answers[k];
            }
        }

        if (outcome.Exception is { } error && !caller.IsCancellationRequested)
        {
            if (error is OperationCanceledException && budget.IsCancellationRequested)
            {
                Interlocked.Increment(ref Counters.BudgetExceeded);
            }

            RecordFailure(error, "exists");
        }
    }
}
