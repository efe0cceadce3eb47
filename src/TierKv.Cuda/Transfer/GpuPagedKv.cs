using TierKv.Cuda.Paged;

namespace TierKv.Cuda.Transfer;

/// <summary>
/// An engine's paged KV memory on the GPU: one tensor per layer, <c>[2, num_blocks, block_size, kv_heads, head_dim]</c>.
/// Either wraps the engine's own layer pointers or allocates all layers back to back (tests, benchmarks).
/// </summary>
public sealed class GpuPagedKv : IDisposable
{
    private readonly ulong[] _layers;
    private readonly DeviceBuffer? _owned;

    private GpuPagedKv(PagedKvGeometry geometry, ulong[] layers, DeviceBuffer? owned)
    {
        Geometry = geometry;
        _layers = layers;
        _owned = owned;
    }

    /// <summary>The geometry of pages and chunks.</summary>
    public PagedKvGeometry Geometry { get; }

    /// <summary>The allocation holding all layers back to back, when this object allocated them.</summary>
    public DeviceBuffer? Buffer => _owned;

    /// <summary>Allocates all layers' tensors in one device buffer (layer l at l * LayerTensorBytes).</summary>
    public static GpuPagedKv Allocate(CudaDevice device, PagedKvGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        CheckGeometry(geometry);
        var buffer = new DeviceBuffer(device, geometry.Layers * geometry.LayerTensorBytes);
        var layers = new ulong[geometry.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = buffer.Pointer + (ulong)(l * geometry.LayerTensorBytes);
        }

        return new GpuPagedKv(geometry, layers, buffer);
    }

    /// <summary>Wraps an engine's layer tensors (device addresses, 16-byte aligned); the engine keeps them alive.</summary>
    public static GpuPagedKv Wrap(PagedKvGeometry geometry, ReadOnlySpan<ulong> layerPointers)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        CheckGeometry(geometry);
        if (layerPointers.Length != geometry.Layers)
        {
            throw new ArgumentException($"{layerPointers.Length} layer pointers given; the geometry has {geometry.Layers} layers.", nameof(layerPointers));
        }

        for (int l = 0; l < layerPointers.Length; l++)
        {
            if (layerPointers[l] == 0 || (layerPointers[l] & 15) != 0)
            {
                throw new ArgumentException($"Layer {l}'s tensor address 0x{layerPointers[l]:x} is null or not 16-byte aligned.", nameof(layerPointers));
            }
        }

        return new GpuPagedKv(geometry, layerPointers.ToArray(), null);
    }

    /// <summary>Device address of layer <paramref name="layer"/>'s tensor.</summary>
    public ulong LayerPointer(int layer) => _layers[layer];

    /// <inheritdoc />
    public void Dispose() => _owned?.Dispose();

    private static void CheckGeometry(PagedKvGeometry geometry)
    {
        if (geometry.PageBytes % 16 != 0)
        {
            throw new ArgumentException($"The GPU kernels copy 16-byte words; a page of {geometry.PageBytes} bytes is not a multiple of 16.", nameof(geometry));
        }
    }
}
