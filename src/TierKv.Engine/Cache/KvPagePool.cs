using System.Runtime.InteropServices;
using TierKv.Engine.Model;

namespace TierKv.Engine.Cache;

/// <summary>
/// The engine's paged KV memory: fixed pages of <see cref="PageTokens"/> tokens, all layers, allocated once from
/// native memory. Inside a page, per layer, K is stored transposed (<c>[kv head][dim][16 tokens]</c>, so one 512-bit
/// vector holds a dimension of 16 keys and scores need no horizontal sums) and V row-major
/// (<c>[kv head][16 tokens][dim]</c>). A layer's block of a page is contiguous, so TierKV chunks are made of whole
/// page blocks copied as they are.
/// </summary>
public sealed unsafe class KvPagePool : IDisposable
{
    /// <summary>Tokens per page.</summary>
    public const int PageTokens = 16;

    private readonly Stack<int> _free;
    private readonly Lock _lock = new();
    private float* _base;

    /// <summary>Allocates <paramref name="pages"/> pages for <paramref name="config"/>.</summary>
    public KvPagePool(ModelConfig config, int pages)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (pages <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pages), pages, "The KV page pool needs at least one page.");
        }

        Config = config;
        Capacity = pages;
        LayerPageFloats = 2 * config.KvHeads * config.HeadDim * PageTokens;
        PageFloats = (long)LayerPageFloats * config.Layers;
        nuint bytes = (nuint)(PageFloats * pages * sizeof(float));
        _base = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        _free = new Stack<int>(pages);
        for (int i = pages - 1; i >= 0; i--)
        {
            _free.Push(i);
        }
    }

    /// <summary>Model the pages are shaped for.</summary>
    public ModelConfig Config { get; }

    /// <summary>Pages in the pool.</summary>
    public int Capacity { get; }

    /// <summary>Pages not held by a sequence.</summary>
    public int FreePages
    {
        get
        {
            lock (_lock)
            {
                return _free.Count;
            }
        }
    }

    /// <summary>Floats of one layer's block of one page (K and V).</summary>
    public int LayerPageFloats { get; }

    /// <summary>Bytes of one layer's block of one page.</summary>
    public int LayerPageBytes => LayerPageFloats * sizeof(float);

    /// <summary>Floats of one page (all layers).</summary>
    public long PageFloats { get; }

    /// <summary>Start of layer <paramref name="layer"/>'s block of page <paramref name="page"/>: K^T then V.</summary>
    public float* LayerPage(int page, int layer) => _base + (page * PageFloats) + ((long)layer * LayerPageFloats);

    /// <summary>Offset of the V part inside a layer block.</summary>
    public int ValueOffset => LayerPageFloats / 2;

    /// <summary>Takes a free page.</summary>
    public int Rent()
    {
        lock (_lock)
        {
            if (_free.Count == 0)
            {
                throw new InvalidOperationException($"The KV page pool is exhausted ({Capacity} pages of {PageTokens} tokens): give the engine more KV pages or run fewer sequences at once.");
            }

            return _free.Pop();
        }
    }

    /// <summary>Returns a page.</summary>
    public void Return(int page)
    {
        lock (_lock)
        {
            _free.Push(page);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_base != null)
        {
            NativeMemory.AlignedFree(_base);
            _base = null;
        }
    }
}
