using TierKv.Cuda.Interop;
using TierKv.Cuda.Memory;
using TierKv.Cuda.Paged;

namespace TierKv.Cuda.Transfer;

/// <summary>
/// Moves a request's KV between pinned host chunks (for example DRAM-tier slots held by leases) and the engine's
/// paged GPU memory, layer by layer. Loads run on their own two streams (DMA, then scatter) and record one event per
/// layer, so the engine waits only for the layer it computes next; saves run on two other streams, each layer after
/// an event the engine gives, and never stall its compute stream. One load and one save may be in flight at once; a
/// new load (or save) first waits for the previous one.
/// </summary>
public sealed unsafe class LayerwiseKvTransfer : IDisposable
{
    private readonly CudaDevice _device;
    private readonly KvTransferOptions _options;
    private readonly int _maxChunks;
    private readonly int _groupLayers;
    private readonly Direction _load;
    private readonly Direction _save;
    private int _disposed;

    /// <summary>Creates the streams, events and staging for requests of up to <paramref name="maxChunks"/> chunks.</summary>
    public LayerwiseKvTransfer(CudaDevice device, PagedKvGeometry geometry, int maxChunks, KvTransferOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(geometry);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChunks);
        _options = options ?? new KvTransferOptions();
        _options.Validate();
        if (geometry.PageBytes % 16 != 0)
        {
            throw new ArgumentException($"The GPU kernels copy 16-byte words; a page of {geometry.PageBytes} bytes is not a multiple of 16.", nameof(geometry));
        }

        _device = device;
        Geometry = geometry;
        _maxChunks = maxChunks;
        long layerBytes = geometry.ChunkLayerBytes;
        _groupLayers = _options.Path == TransferPath.Mapped ? 1
            : _options.LayersPerGroup > 0
            ? Math.Min(_options.LayersPerGroup, geometry.Layers)
            : (int)Math.Clamp((_options.MinCopyBytes + layerBytes - 1) / layerBytes, 1, geometry.Layers);
        long slotBytes = _options.Path == TransferPath.Staged ? _groupLayers * layerBytes * maxChunks : 0;
        _load = new Direction(device, geometry, maxChunks, slotBytes, _options.StagingDepth);
        try
        {
            _save = new Direction(device, geometry, maxChunks, slotBytes, _options.StagingDepth);
        }
        catch
        {
            _load.Dispose();
            throw;
        }
    }

    /// <summary>The geometry of pages and chunks.</summary>
    public PagedKvGeometry Geometry { get; }

    /// <summary>Layers per DMA copy on the staged path (1 on the mapped path, which works layer by layer).</summary>
    public int LayersPerGroup => _groupLayers;

    /// <summary>The path in use.</summary>
    public TransferPath Path => _options.Path;

    /// <summary>Bytes of device staging in use (both directions).</summary>
    public long StagingBytes => _load.StagingBytes + _save.StagingBytes;

    /// <summary>
    /// Starts loading <paramref name="hostChunks"/> (pinned chunk addresses, one per chunk, in request order) into the
    /// pages <paramref name="pageTable"/> names in <paramref name="target"/>. Returns once all work is queued.
    /// </summary>
    public void StartLoad(GpuPagedKv target, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> hostChunks)
    {
        ArgumentNullException.ThrowIfNull(target);
        _device.Bind();
        int n = Prepare(_load, target, pageTable, hostChunks);
        var d = _load;
        if (_options.Path == TransferPath.Mapped)
        {
            d.Start.Record(d.KernelStream);
            UploadTable(d, d.KernelStream);
            for (int l = 0; l < Geometry.Layers; l++)
            {
                Launch(_device.ScatterFunction, d.KernelStream, target.LayerPointer(l), d.TableDevice, 0, d.PointersDevice, 0, l * Geometry.ChunkLayerBytes, n);
                d.LayerEvents[l].Record(d.KernelStream);
            }

            return;
        }

        d.Start.Record(d.CopyStream);
        UploadTable(d, d.CopyStream);
        int groups = GroupCount;
        for (int g = 0; g < groups; g++)
        {
            int g0 = g * _groupLayers;
            int gl = Math.Min(_groupLayers, Geometry.Layers - g0);
            int slot = g % d.Slots.Length;
            if (g >= d.Slots.Length)
            {
                // The slot is free once the scatter of the group that used it before has run.
                int previousLast = ((g - d.Slots.Length) * _groupLayers) + _groupLayers - 1;
                d.CopyStream.Wait(d.LayerEvents[previousLast]);
            }

            CopyGroup(d, hostChunks, n, g0, gl, slot, toDevice: true);
            d.GroupEvents[g].Record(d.CopyStream);
            d.KernelStream.Wait(d.GroupEvents[g]);
            long pitch = gl * Geometry.ChunkLayerBytes;
            for (int l = g0; l < g0 + gl; l++)
            {
                Launch(_device.ScatterFunction, d.KernelStream, target.LayerPointer(l), d.TableDevice, d.Slots[slot].Pointer, 0, pitch, (l - g0) * Geometry.ChunkLayerBytes, n);
                d.LayerEvents[l].Record(d.KernelStream);
            }
        }
    }

    /// <summary>The event that completes when layer <paramref name="layer"/> of the current load is in the pages.</summary>
    public CudaEvent LayerLoaded(int layer) => _load.LayerEvents[CheckLayer(layer)];

    /// <summary>Blocks until layer <paramref name="layer"/> of the current load is in the pages.</summary>
    public void WaitLayerLoaded(int layer) => LayerLoaded(layer).Synchronize();

    /// <summary>Makes <paramref name="compute"/> wait on the device (not the host) for layer <paramref name="layer"/>.</summary>
    public void StreamWaitLayerLoaded(int layer, CudaStream compute)
    {
        ArgumentNullException.ThrowIfNull(compute);
        _device.Bind();
        compute.Wait(LayerLoaded(layer));
    }

    /// <summary>Blocks until the whole load finished.</summary>
    public void WaitLoad() => Finish(_load);

    /// <summary>
    /// Prepares a save of the request's pages into <paramref name="hostChunks"/> (pinned chunk addresses, for example
    /// reserved DRAM-tier slots). Layers then go out with <see cref="SaveLayer"/>, in order.
    /// </summary>
    public void StartSave(GpuPagedKv source, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> hostChunks)
    {
        ArgumentNullException.ThrowIfNull(source);
        _device.Bind();
        Prepare(_save, source, pageTable, hostChunks);
        _save.Source = source;
        hostChunks.CopyTo(_save.HostChunks);
        _save.Start.Record(_save.KernelStream);
        UploadTable(_save, _save.KernelStream);
    }

    /// <summary>
    /// Saves layer <paramref name="layer"/> (layers in order from 0) once <paramref name="after"/> (recorded by the
    /// engine after it wrote that layer) completed; null saves at once. Returns once the work is queued.
    /// </summary>
    public void SaveLayer(int layer, CudaEvent? after = null)
    {
        var d = _save;
        if (d.Source is null)
        {
            throw new InvalidOperationException("SaveLayer needs a StartSave first.");
        }

        if (layer != d.NextLayer)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layers are saved in order; the next one is {d.NextLayer}.");
        }

        _device.Bind();
        int n = d.Chunks;
        if (after is not null)
        {
            d.KernelStream.Wait(after);
        }

        if (_options.Path == TransferPath.Mapped)
        {
            Launch(_device.GatherFunction, d.KernelStream, d.Source.LayerPointer(layer), d.TableDevice, 0, d.PointersDevice, 0, layer * Geometry.ChunkLayerBytes, n);
            d.LayerEvents[layer].Record(d.KernelStream);
        }
        else
        {
            int g = layer / _groupLayers;
            int g0 = g * _groupLayers;
            int gl = Math.Min(_groupLayers, Geometry.Layers - g0);
            int slot = g % d.Slots.Length;
            if (layer == g0 && g >= d.Slots.Length)
            {
                // The slot is free once the copy-out of the group that used it before has run.
                d.KernelStream.Wait(d.GroupEvents[g - d.Slots.Length]);
            }

            long pitch = gl * Geometry.ChunkLayerBytes;
            Launch(_device.GatherFunction, d.KernelStream, d.Source.LayerPointer(layer), d.TableDevice, d.Slots[slot].Pointer, 0, pitch, (layer - g0) * Geometry.ChunkLayerBytes, n);
            if (layer == g0 + gl - 1)
            {
                d.Gathered.Record(d.KernelStream);
                d.CopyStream.Wait(d.Gathered);
                CopyGroup(d, d.HostChunks.AsSpan(0, n), n, g0, gl, slot, toDevice: false);
                d.GroupEvents[g].Record(d.CopyStream);
                for (int l = g0; l < g0 + gl; l++)
                {
                    d.LayerEvents[l].Record(d.CopyStream);
                }
            }
        }

        d.NextLayer++;
    }

    /// <summary>Queues every remaining layer of the current save.</summary>
    public void SaveRemainingLayers()
    {
        while (_save.NextLayer < Geometry.Layers)
        {
            SaveLayer(_save.NextLayer);
        }
    }

    /// <summary>The event that completes when layer <paramref name="layer"/> of the current save is in host memory.</summary>
    public CudaEvent LayerSaved(int layer) => _save.LayerEvents[CheckLayer(layer)];

    /// <summary>Blocks until every queued layer of the save is in host memory.</summary>
    public void WaitSaves() => Finish(_save);

    /// <summary>Milliseconds from the start of the last load to each layer's completion (after <see cref="WaitLoad"/>).</summary>
    public void LoadLayerMilliseconds(Span<double> perLayer) => Elapsed(_load, perLayer);

    /// <summary>Milliseconds from the start of the last save to each layer's completion (after <see cref="WaitSaves"/>).</summary>
    public void SaveLayerMilliseconds(Span<double> perLayer) => Elapsed(_save, perLayer);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _device.Bind();
        try
        {
            _load.KernelStream.Synchronize();
            _load.CopyStream.Synchronize();
            _save.KernelStream.Synchronize();
            _save.CopyStream.Synchronize();
        }
        finally
        {
            _load.Dispose();
            _save.Dispose();
        }
    }

    private int GroupCount => (Geometry.Layers + _groupLayers - 1) / _groupLayers;

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)Geometry.Layers ? layer : throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The layer must be in [0, {Geometry.Layers}).");

    private void Elapsed(Direction d, Span<double> perLayer)
    {
        if (perLayer.Length < Geometry.Layers)
        {
            throw new ArgumentException($"Room for {Geometry.Layers} layers is needed.", nameof(perLayer));
        }

        _device.Bind();
        for (int l = 0; l < Geometry.Layers; l++)
        {
            perLayer[l] = d.LayerEvents[l].ElapsedSince(d.Start);
        }
    }

    private void Finish(Direction d)
    {
        _device.Bind();
        d.KernelStream.Synchronize();
        d.CopyStream.Synchronize();
    }

    private int Prepare(Direction d, GpuPagedKv paged, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> hostChunks)
    {
        if (!ReferenceEquals(paged.Geometry, Geometry) && paged.Geometry != Geometry)
        {
            throw new ArgumentException("The paged memory's geometry differs from this transfer's.", nameof(paged));
        }

        int n = hostChunks.Length;
        if (n == 0 || n > _maxChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(hostChunks), n, $"A transfer moves 1 to {_maxChunks} chunks (the size it was created for).");
        }

        Geometry.ValidatePageTable(pageTable, n);
        for (int c = 0; c < n; c++)
        {
            nint p = hostChunks[c];
            if (p == 0 || (p & 15) != 0)
            {
                throw new ArgumentException($"Chunk {c}'s address 0x{p:x} is null or not 16-byte aligned.", nameof(hostChunks));
            }

            if (!CudaPinnedHostMemoryAllocator.IsPinned(_device, p))
            {
                throw new ArgumentException($"Chunk {c} at 0x{p:x} is not pinned host memory: allocate the DRAM tier with CudaPinnedHostMemoryAllocator or pin its pool with PinnedRegistration.", nameof(hostChunks));
            }
        }

        // The previous transfer in this direction must be done before its table and staging are reused.
        Finish(d);
        d.Chunks = n;
        d.NextLayer = 0;
        var table = new Span<int>((void*)d.TableHost.Pointer, n * Geometry.PagesPerChunk);
        pageTable.CopyTo(table);
        var pointers = new Span<ulong>((void*)(d.TableHost.Pointer + d.PointersOffset), n);
        for (int c = 0; c < n; c++)
        {
            pointers[c] = (ulong)hostChunks[c];
        }

        return n;
    }

    private static void UploadTable(Direction d, CudaStream stream)
    {
        CudaDriver.Check(CudaDriver.Api.cuMemcpyHtoDAsync_v2(d.TableDeviceBuffer.Pointer, (void*)d.TableHost.Pointer, (nuint)d.TableHost.Bytes, stream.Handle), "cuMemcpyHtoDAsync_v2(page table)");
    }

    // One strided DMA copy per run of chunks that lie back to back in host memory; each row is one chunk's layers
    // [g0, g0 + gl).
    private void CopyGroup(Direction d, ReadOnlySpan<nint> hostChunks, int n, int g0, int gl, int slot, bool toDevice)
    {
        long chunkBytes = Geometry.Chunk.ChunkBytes;
        long width = gl * Geometry.ChunkLayerBytes;
        long layerOffset = g0 * Geometry.ChunkLayerBytes;
        ulong staging = d.Slots[slot].Pointer;
        int c0 = 0;
        while (c0 < n)
        {
            int c1 = c0 + 1;
            while (c1 < n && hostChunks[c1] == hostChunks[c1 - 1] + (nint)chunkBytes)
            {
                c1++;
            }

            var copy = new CudaMemcpy2D
            {
                WidthInBytes = (nuint)width,
                Height = (nuint)(c1 - c0),
            };
            nint host = hostChunks[c0] + (nint)layerOffset;
            ulong dev = staging + (ulong)(c0 * width);
            if (toDevice)
            {
                copy.SrcMemoryType = CudaMemcpy2D.MemoryTypeHost;
                copy.SrcHost = host;
                copy.SrcPitch = (nuint)chunkBytes;
                copy.DstMemoryType = CudaMemcpy2D.MemoryTypeDevice;
                copy.DstDevice = dev;
                copy.DstPitch = (nuint)width;
            }
            else
            {
                copy.SrcMemoryType = CudaMemcpy2D.MemoryTypeDevice;
                copy.SrcDevice = dev;
                copy.SrcPitch = (nuint)width;
                copy.DstMemoryType = CudaMemcpy2D.MemoryTypeHost;
                copy.DstHost = host;
                copy.DstPitch = (nuint)chunkBytes;
            }

            CudaDriver.Check(CudaDriver.Api.cuMemcpy2DAsync_v2(&copy, d.CopyStream.Handle), toDevice ? "cuMemcpy2DAsync_v2(host to device)" : "cuMemcpy2DAsync_v2(device to host)");
            c0 = c1;
        }
    }

    private void Launch(nint function, CudaStream stream, ulong paged, ulong table, ulong chunkBase, ulong chunkPointers, long chunkStride, long layerOffset, int chunks)
    {
        long pagedKvStride = Geometry.PagedKvStride;
        int pagesPerChunk = Geometry.PagesPerChunk;
        long chunkKvStride = Geometry.ChunkKvStride;
        long pageBytes = Geometry.PageBytes;
        var args = stackalloc void*[10];
        args[0] = &paged;
        args[1] = &pagedKvStride;
        args[2] = &table;
        args[3] = &pagesPerChunk;
        args[4] = &chunkBase;
        args[5] = &chunkPointers;
        args[6] = &chunkStride;
        args[7] = &layerOffset;
        args[8] = &chunkKvStride;
        args[9] = &pageBytes;
        long blocks = 2L * chunks * pagesPerChunk;
        CudaDriver.Check(
            CudaDriver.Api.cuLaunchKernel(function, (uint)blocks, 1, 1, (uint)_options.ThreadsPerBlock, 1, 1, 0, stream.Handle, args, null),
            function == _device.GatherFunction ? "cuLaunchKernel(tierkv_gather)" : "cuLaunchKernel(tierkv_scatter)");
    }

    /// <summary>Streams, events, staging and page-table buffers of one direction.</summary>
    private sealed class Direction : IDisposable
    {
        public Direction(CudaDevice device, PagedKvGeometry geometry, int maxChunks, long slotBytes, int depth)
        {
            var owned = new List<IDisposable>();
            try
            {
                CopyStream = Add(owned, new CudaStream(device));
                KernelStream = Add(owned, new CudaStream(device));
                Start = Add(owned, new CudaEvent(device));
                Gathered = Add(owned, new CudaEvent(device));
                LayerEvents = new CudaEvent[geometry.Layers];
                GroupEvents = new CudaEvent[geometry.Layers];
                for (int l = 0; l < geometry.Layers; l++)
                {
                    LayerEvents[l] = Add(owned, new CudaEvent(device));
                    GroupEvents[l] = Add(owned, new CudaEvent(device));
                }

                long tableBytes = (long)maxChunks * geometry.PagesPerChunk * sizeof(int);
                PointersOffset = (tableBytes + 15) / 16 * 16;
                long scratch = PointersOffset + (maxChunks * sizeof(ulong));
                TableHost = Add(owned, new PinnedHostBuffer(device, scratch));
                TableDeviceBuffer = Add(owned, new DeviceBuffer(device, scratch));
                Slots = new DeviceBuffer[slotBytes > 0 ? depth : 0];
                for (int i = 0; i < Slots.Length; i++)
                {
                    Slots[i] = Add(owned, new DeviceBuffer(device, slotBytes));
                }

                StagingBytes = slotBytes * Slots.Length;
                HostChunks = new nint[maxChunks];
                Owned = owned;
            }
            catch
            {
                foreach (var o in owned)
                {
                    o.Dispose();
                }

                throw;
            }
        }

        public CudaStream CopyStream { get; }

        public CudaStream KernelStream { get; }

        public CudaEvent Start { get; }

        public CudaEvent Gathered { get; }

        public CudaEvent[] LayerEvents { get; }

        public CudaEvent[] GroupEvents { get; }

        public PinnedHostBuffer TableHost { get; }

        public DeviceBuffer TableDeviceBuffer { get; }

        public long PointersOffset { get; }

        public ulong TableDevice => TableDeviceBuffer.Pointer;

        public ulong PointersDevice => TableDeviceBuffer.Pointer + (ulong)PointersOffset;

        public DeviceBuffer[] Slots { get; }

        public long StagingBytes { get; }

        public int Chunks { get; set; }

        public int NextLayer { get; set; }

        public GpuPagedKv? Source { get; set; }

        public nint[] HostChunks { get; }

        private List<IDisposable> Owned { get; }

        public void Dispose()
        {
            for (int i = Owned.Count - 1; i >= 0; i--)
            {
                Owned[i].Dispose();
            }
        }

        private static T Add<T>(List<IDisposable> owned, T item)
            where T : IDisposable
        {
            owned.Add(item);
            return item;
        }
    }
}
