using System.Runtime.InteropServices;

namespace TierKv.Memory;

/// <summary>Page-aligned native memory from <see cref="NativeMemory.AlignedAlloc(nuint, nuint)"/>.</summary>
public sealed class NativeHostMemoryAllocator : IHostMemoryAllocator
{
    /// <summary>The shared instance.</summary>
    public static NativeHostMemoryAllocator Instance { get; } = new();

    /// <inheritdoc />
    public string Description => "native (pageable)";

    /// <inheritdoc />
    public unsafe nint Allocate(nuint bytes, nuint alignment) => (nint)NativeMemory.AlignedAlloc(bytes, alignment);

    /// <inheritdoc />
    public unsafe void Free(nint pointer, nuint bytes) => NativeMemory.AlignedFree((void*)pointer);
}
