namespace TierKv.Memory;

/// <summary>
/// Allocates the DRAM tier's one pool. The default uses page-aligned native memory; the CUDA component supplies one
/// that allocates or registers pinned memory so GPU copies run at the DMA ceiling.
/// </summary>
public interface IHostMemoryAllocator
{
    /// <summary>Short description for logs and probes, e.g. <c>native (pageable)</c> or <c>cuda pinned</c>.</summary>
    string Description { get; }

    /// <summary>Allocates <paramref name="bytes"/> aligned to <paramref name="alignment"/>; throws <see cref="OutOfMemoryException"/> when it cannot.</summary>
    nint Allocate(nuint bytes, nuint alignment);

    /// <summary>Frees memory from <see cref="Allocate"/>.</summary>
    void Free(nint pointer, nuint bytes);
}
