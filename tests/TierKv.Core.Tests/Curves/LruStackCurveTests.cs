using CsCheck;
using TierKv.Curves;
using TierKv.Keys;

namespace TierKv.Core.Tests.Curves;

/// <summary>
/// <see cref="LruStackCurve"/> against an LRU stack written out as a list: prefix hits at every size, with forgetting,
/// renumbering and lazily found boundaries exercised by small sizes and long streams.
/// </summary>
public sealed class LruStackCurveTests
{
    // An access: a key from a small universe and how its parent is chosen (0: none, 1: the previous access's key,
    // 2: a key of the universe, possibly forgotten or never seen).
    private static readonly Gen<(int Key, int Link, int Other)> Accesses = Gen.Select(Gen.Int[0, 120], Gen.Int[0, 2], Gen.Int[0, 120]);

    private static readonly Gen<int[]> Sizes = Gen.Int[1, 40].Array[1, 6].Select(s => s.Order().ToArray());

    [Fact]
    public void Prefix_hits_at_every_size_equal_an_lru_list_on_random_streams()
    {
        Gen.Select(Sizes, Accesses.Array[1, 3000], Gen.Int[1, 400]).Sample((sizes, stream, checkEvery) =>
        {
            var curve = new LruStackCurve(sizes);
            var reference = new ListLru(sizes);
            ChunkKey? previous = null;
            for (int i = 0; i < stream.Length; i++)
            {
                var (k, link, other) = stream[i];
                var key = KeyOf(k);
                ChunkKey? parent = link switch
                {
                    0 => null,
                    1 when previous is { } p && p != key => p,
                    _ => other == k ? null : KeyOf(other),
                };

                curve.Access(key, parent);
                reference.Access(key, parent);
                previous = key;
                if (i % checkEvery == 0 || i == stream.Length - 1)
                {
                    curve.Drain();
                    Assert.Equal(i + 1, curve.Accesses);
                    for (int level = 0; level < sizes.Length; level++)
                    {
                        Assert.True(reference.Hits(level) == curve.Hits(level), $"after {i + 1} accesses, size {sizes[level]}: list {reference.Hits(level)}, curve {curve.Hits(level)}");
                    }
                }
            }
        }, iter: 300);
    }

    [Fact]
    public void A_chunk_within_a_size_counts_there_only_when_its_parent_did()
    {
        // Sizes 2 and 4: a, x, y, then b alone (the stack is b y x a); then a (third back: within 4, not 2) and its
        // child b (first back: within 2). b continues a's run, so both hit at 4 and neither at 2.
        var curve = new LruStackCurve([2, 4]);
        ChunkKey a = KeyOf(1), b = KeyOf(2), x = KeyOf(3), y = KeyOf(4);
        curve.Access(a, null);
        curve.Access(x, null);
        curve.Access(y, null);
        curve.Access(b, null);
        curve.Access(a, null);
        curve.Access(b, a);
        curve.Drain();
        Assert.Equal(0, curve.Hits(0));
        Assert.Equal(2, curve.Hits(1));
    }

    private static ChunkKey KeyOf(int i) => new((UInt128)(uint)i);

    /// <summary>The definition: a list, most recent first, of at most the largest size's keys.</summary>
    private sealed class ListLru(int[] sizes)
    {
        private readonly List<ChunkKey> _stack = [];
        private readonly Dictionary<ChunkKey, int> _runOf = [];
        private readonly long[] _runs = new long[sizes.Length + 1];
        private ChunkKey? _previous;
        private int _previousRun;

        public long Hits(int level) => _runs.Take(level + 1).Sum();

        public void Access(ChunkKey key, ChunkKey? parent)
        {
            int levels = sizes.Length;
            int position = _stack.IndexOf(key);
            int level = levels;
            if (position >= 0)
            {
                level = Array.FindIndex(sizes, s => position < s);
            }

            int run = level;
            if (parent is { } p)
            {
                int parentRun = _previous == p ? _previousRun : _stack.Contains(p) ? _runOf[p] : levels;
                run = Math.Max(level, parentRun);
            }

            if (position >= 0)
            {
                _stack.RemoveAt(position);
            }

            _stack.Insert(0, key);
            _runOf[key] = run;
            if (_stack.Count > sizes[^1])
            {
                _runOf.Remove(_stack[^1]);
                _stack.RemoveAt(_stack.Count - 1);
            }

            _runs[run]++;
            _previous = key;
            _previousRun = run;
        }
    }
}
