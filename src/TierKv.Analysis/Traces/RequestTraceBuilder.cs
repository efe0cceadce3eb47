using TierKv.Keys;

namespace TierKv.Analysis.Traces;

/// <summary>Builds a <see cref="RequestTrace"/> request by request, assigning dense block ids in order of first appearance.</summary>
public sealed class RequestTraceBuilder
{
    private readonly string _name;
    private readonly int _blockTokens;
    private readonly AppendBuffer<long> _timestamps = new();
    private readonly AppendBuffer<int> _input = new();
    private readonly AppendBuffer<int> _output = new();
    private readonly AppendBuffer<int> _tenants = new();
    private readonly AppendBuffer<int> _blockStart = new();
    private readonly AppendBuffer<int> _blocks = new();
    private readonly AppendBuffer<ChunkKey> _keys = new();
    private readonly AppendBuffer<int> _parents = new();
    private readonly DenseBlockIds _dense;
    private long _parentConflicts;
    private int _built;

    /// <summary>Starts a trace named <paramref name="name"/> with <paramref name="blockTokens"/> tokens per block.</summary>
    public RequestTraceBuilder(string name, int blockTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockTokens, 1);
        _name = name;
        _blockTokens = blockTokens;
        _dense = new DenseBlockIds(_keys);
        _blockStart.Add(0);
    }

    /// <summary>Number of requests added so far.</summary>
    public int Count => _timestamps.Count;

    /// <summary>Adds a request whose chain of blocks has the keys <paramref name="chain"/>, in order.</summary>
    public void Add(long timestampMs, int inputTokens, int outputTokens, int tenant, ReadOnlySpan<ChunkKey> chain)
    {
        if (_built != 0)
        {
            throw new InvalidOperationException("The trace was already built; a builder builds one trace.");
        }

        _timestamps.Add(timestampMs);
        _input.Add(inputTokens);
        _output.Add(outputTokens);
        _tenants.Add(tenant);
        int parent = -1;
        foreach (var key in chain)
        {
            int id = _dense.GetOrAdd(key, out bool added);
            if (added)
            {
                _parents.Add(parent);
            }
            else if (_parents[id] != parent)
            {
                _parentConflicts++;
            }

            _blocks.Add(id);
            parent = id;
        }

        _blockStart.Add(_blocks.Count);
    }

    /// <summary>The synthetic chunk key of a Mooncake <c>hash_id</c>: a fixed 128-bit mix, so replay and analysis agree.</summary>
    public static ChunkKey KeyOfHashId(long hashId)
    {
        ulong lo = Mix((ulong)hashId ^ 0x243F6A8885A308D3UL);
        ulong hi = Mix((ulong)hashId ^ 0x13198A2E03707344UL);
        return new ChunkKey(new UInt128(hi, lo));
    }

    /// <summary>The finished trace. The builder hands its columns over (a trace may be most of memory): build once.</summary>
    public RequestTrace Build()
    {
        if (Interlocked.Exchange(ref _built, 1) != 0)
        {
            throw new InvalidOperationException("The trace was already built; a builder builds one trace.");
        }

        return new(_name, _blockTokens, _timestamps.MoveToArray(), _input.MoveToArray(), _output.MoveToArray(), _tenants.MoveToArray(), _blockStart.MoveToArray(), _blocks.MoveToArray(), _keys.MoveToArray(), _parents.MoveToArray(), _parentConflicts);
    }

    private static ulong Mix(ulong z)
    {
        // splitmix64 finaliser: distinct ids give distinct, well-spread keys.
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
