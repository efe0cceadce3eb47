using System.Diagnostics;
using System.Text.Json.Nodes;
using TierKv.Cuda.Checks;
using TierKv.Cuda.Interop;
using TierKv.Cuda.Paged;
using TierKv.Cuda.Transfer;
using TierKv.Keys;

namespace TierKv.Cuda.Bench;

/// <summary>
/// <c>tierkv bench gpu</c>: in one run, the PCIe ceilings (one large pinned copy each way) and TierKV's load (chunks
/// to paged GPU memory, scatter included) and store (gather included) for a model layout under a random page table,
/// with per-layer latency. Every path's load-then-store round trip is checked bit-exact, and the first path's pages
/// against the CPU reference (<see cref="PagedKvReference"/>). Shared by the CLI
/// and the NativeAOT runner of the device script.
/// </summary>
public static unsafe class GpuTransferBench
{
    /// <summary>Runs the benchmark; <paramref name="log"/> receives progress lines (may be null).</summary>
    public static JsonObject Run(GpuBenchOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var shape = ModelShapes.Get(options.Model);
        var layout = shape.Layout;
        int chunks = Math.Max(1, options.Tokens / layout.TokensPerChunk);
        int tokens = chunks * layout.TokensPerChunk;
        long bytes = (long)chunks * layout.ChunkBytes;
        var geometry = new PagedKvGeometry(layout, options.BlockSize, chunks * (layout.TokensPerChunk / options.BlockSize) * 5 / 4);
        int[] table = TestPattern.PageTable(chunks * geometry.PagesPerChunk, geometry.NumBlocks, 20251126);

        long t0 = Stopwatch.GetTimestamp();
        using var device = CudaDevice.Open(options.Device);
        double openMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        log?.Invoke($"device: {device}; kernels {device.Kernels.ArchOption} ({(device.Kernels.IsCubin ? "cubin" : "ptx")}) compiled in {device.Kernels.CompileMilliseconds:F1} ms, loaded in {device.ModuleLoadMilliseconds:F1} ms");
        log?.Invoke($"request: {tokens} tokens = {chunks} chunks of {layout.ChunkBytes >> 20} MiB ({bytes / (1 << 20)} MiB), {geometry.PagesPerChunk * chunks} pages of {geometry.PageBytes >> 10} KiB per layer and half, pool of {geometry.NumBlocks} blocks");

        using var host = new PinnedHostBuffer(device, bytes);
        using var back = new PinnedHostBuffer(device, bytes);
        Parallel.For(0, chunks, c => TestPattern.Fill(host.AsSpan((long)c * layout.ChunkBytes, layout.ChunkBytes), (ulong)c + 1));
        var hostChunks = new nint[chunks];
        var backChunks = new nint[chunks];
        for (int c = 0; c < chunks; c++)
        {
            hostChunks[c] = host.Pointer + (nint)((long)c * layout.ChunkBytes);
            backChunks[c] = back.Pointer + (nint)((long)c * layout.ChunkBytes);
        }

        using var paged = GpuPagedKv.Allocate(device, geometry);
        using var stream = new CudaStream(device);
        using var start = new CudaEvent(device);
        using var stop = new CudaEvent(device);

        // Ceilings: one large pinned copy each way, into and out of the paged memory's own allocation.
        var h2d = new List<double>();
        var d2h = new List<double>();
        ulong dev = paged.Buffer!.Pointer;
        for (int r = 0; r <= options.Reps; r++)
        {
            start.Record(stream);
            CudaDriver.Check(CudaDriver.Api.cuMemcpyHtoDAsync_v2(dev, (void*)host.Pointer, (nuint)bytes, stream.Handle), "cuMemcpyHtoDAsync_v2");
            stop.Record(stream);
            stop.Synchronize();
            double h = stop.ElapsedSince(start);
            start.Record(stream);
            CudaDriver.Check(CudaDriver.Api.cuMemcpyDtoHAsync_v2((void*)back.Pointer, dev, (nuint)bytes, stream.Handle), "cuMemcpyDtoHAsync_v2");
            stop.Record(stream);
            stop.Synchronize();
            double d = stop.ElapsedSince(start);
            if (r > 0)
            {
                h2d.Add(bytes / h / 1e6);
                d2h.Add(bytes / d / 1e6);
            }
        }

        log?.Invoke($"ceilings: host to device {Median(h2d):F2} GB/s, device to host {Median(d2h):F2} GB/s");

        var variants = new (string Name, KvTransferOptions Options)[]
        {
            ("staged", new KvTransferOptions { Path = TransferPath.Staged }),
            ("staged_layer", new KvTransferOptions { Path = TransferPath.Staged, LayersPerGroup = 1 }),
            ("staged_8", new KvTransferOptions { Path = TransferPath.Staged, LayersPerGroup = 8 }),
            ("staged_request", new KvTransferOptions { Path = TransferPath.Staged, LayersPerGroup = layout.Layers }),
            ("mapped", new KvTransferOptions { Path = TransferPath.Mapped }),
        };

        var results = new JsonObject();
        JsonObject? primary = null;
        bool verifiedAgainstReference = false;
        int failures = 0;
        foreach (var (name, variantOptions) in variants)
        {
            try
            {
                var r = MeasureVariant(device, geometry, paged, table, hostChunks, backChunks, host, back, bytes, options.Reps, name, variantOptions, verify: !verifiedAgainstReference, log);
                verifiedAgainstReference = true;
                results[name] = r;
                primary ??= r;
            }
            catch (Exception ex) when (ex is CudaException or InvalidOperationException or ArgumentException or OutOfMemoryException)
            {
                // One failing path must not hide the others' figures; the error is reported in the JSON.
                log?.Invoke($"{name}: FAILED: {ex.Message}");
                failures++;
                results[name] = new JsonObject { ["error"] = ex.Message };
                if (name == "staged")
                {
                    primary = new JsonObject { ["load_gbs"] = 0.0, ["store_gbs"] = 0.0, ["load_first_layer_ms"] = 0.0, ["load_layer_p50_ms"] = 0.0, ["load_layer_max_ms"] = 0.0, ["store_layer_p50_ms"] = 0.0, ["store_layer_max_ms"] = 0.0 };
                }
            }
        }

        double naive = options.Naive ? NaiveLoad(device, stream, start, stop, geometry, paged, table, hostChunks) : 0;
        if (options.Naive)
        {
            log?.Invoke($"naive (one cuMemcpy per page): load {naive:F2} GB/s");
        }

        double ch = Median(h2d);
        double cd = Median(d2h);
        double load = (double)primary!["load_gbs"]!;
        double store = (double)primary["store_gbs"]!;
        return new JsonObject
        {
            ["bench"] = "gpu",
            ["device"] = device.Name,
            ["compute_capability"] = $"{device.ComputeCapabilityMajor}.{device.ComputeCapabilityMinor}",
            ["driver_cuda"] = device.DriverVersion,
            ["nvrtc"] = device.NvrtcVersion,
            ["kernel_arch"] = device.Kernels.ArchOption,
            ["kernel_image"] = device.Kernels.IsCubin ? "cubin" : "ptx",
            ["open_ms"] = Round(openMs),
            ["compile_ms"] = Round(device.Kernels.CompileMilliseconds),
            ["module_load_ms"] = Round(device.ModuleLoadMilliseconds),
            ["model"] = shape.Name,
            ["layers"] = layout.Layers,
            ["kv_heads"] = layout.KvHeads,
            ["head_dim"] = layout.HeadDim,
            ["dtype"] = KvElementTypes.ShortName(layout.ElementType),
            ["tokens"] = tokens,
            ["chunks"] = chunks,
            ["block_size"] = options.BlockSize,
            ["page_bytes"] = geometry.PageBytes,
            ["num_blocks"] = geometry.NumBlocks,
            ["bytes"] = bytes,
            ["reps"] = options.Reps,
            ["ceiling_h2d_gbs"] = Round(ch),
            ["ceiling_d2h_gbs"] = Round(cd),
            ["load_gbs"] = load,
            ["store_gbs"] = store,
            ["load_vs_ceiling"] = Round(load / ch),
            ["store_vs_ceiling"] = Round(store / cd),
            ["load_path"] = "staged",
            ["load_first_layer_ms"] = primary["load_first_layer_ms"]!.DeepClone(),
            ["load_layer_p50_ms"] = primary["load_layer_p50_ms"]!.DeepClone(),
            ["load_layer_max_ms"] = primary["load_layer_max_ms"]!.DeepClone(),
            ["store_layer_p50_ms"] = primary["store_layer_p50_ms"]!.DeepClone(),
            ["store_layer_max_ms"] = primary["store_layer_max_ms"]!.DeepClone(),
            ["naive_load_gbs"] = Round(naive),
            ["verified"] = verifiedAgainstReference && failures == 0,
            ["variants"] = results,
        };
    }

    private static JsonObject MeasureVariant(CudaDevice device, PagedKvGeometry geometry, GpuPagedKv paged, int[] table, nint[] hostChunks, nint[] backChunks, PinnedHostBuffer host, PinnedHostBuffer back, long bytes, int reps, string name, KvTransferOptions variantOptions, bool verify, Action<string>? log)
    {
        using var transfer = new LayerwiseKvTransfer(device, geometry, hostChunks.Length, variantOptions);
        var r = Measure(transfer, paged, table, hostChunks, backChunks, host, back, bytes, reps);
        if (verify)
        {
            // Full check of every layer's pages against the CPU scatter, pages outside the table still poisoned.
            paged.Buffer!.Fill(0xCD);
            transfer.StartLoad(paged, table, hostChunks);
            transfer.WaitLoad();
            var expected = new byte[geometry.LayerTensorBytes];
            var actual = new byte[geometry.LayerTensorBytes];
            for (int l = 0; l < geometry.Layers; l++)
            {
                expected.AsSpan().Fill(0xCD);
                PagedKvReference.ScatterLayer(geometry, l, hostChunks, table, expected);
                paged.Buffer.CopyTo(actual, l * geometry.LayerTensorBytes);
                long at = TestPattern.FirstDifference(expected, actual);
                if (at >= 0)
                {
                    throw new InvalidOperationException($"The GPU scatter ({name}) differs from the CPU reference in layer {l} at byte {at} of its paged tensor.");
                }
            }
        }

        r["layers_per_group"] = transfer.LayersPerGroup;
        r["staging_mib"] = transfer.StagingBytes >> 20;
        r["verified_against_cpu_reference"] = verify;
        log?.Invoke($"{name}: load {r["load_gbs"]} GB/s, store {r["store_gbs"]} GB/s, first layer loaded after {r["load_first_layer_ms"]} ms, {transfer.LayersPerGroup} layers per copy{(verify ? ", pages verified against the CPU reference" : "")}");
        return r;
    }

    private static JsonObject Measure(LayerwiseKvTransfer transfer, GpuPagedKv paged, int[] table, nint[] hostChunks, nint[] backChunks, PinnedHostBuffer host, PinnedHostBuffer back, long bytes, int reps)
    {
        int layers = transfer.Geometry.Layers;
        var loads = new List<double>();
        var stores = new List<double>();
        var firstLayer = new List<double>();
        var loadGaps = new List<double>();
        var storeGaps = new List<double>();
        var perLayer = new double[layers];

        // Clear the destination so the round-trip check below sees only bytes the stores wrote.
        for (long off = 0; off < bytes; off += 1 << 30)
        {
            back.AsSpan(off, (int)Math.Min(1 << 30, bytes - off)).Clear();
        }

        for (int r = 0; r <= reps; r++)
        {
            transfer.StartLoad(paged, table, hostChunks);
            transfer.WaitLoad();
            transfer.LoadLayerMilliseconds(perLayer);
            if (r > 0)
            {
                loads.Add(bytes / perLayer[layers - 1] / 1e6);
                firstLayer.Add(perLayer[0]);
                for (int l = 1; l < layers; l++)
                {
                    loadGaps.Add(perLayer[l] - perLayer[l - 1]);
                }
            }

            transfer.StartSave(paged, table, backChunks);
            transfer.SaveRemainingLayers();
            transfer.WaitSaves();
            transfer.SaveLayerMilliseconds(perLayer);
            if (r > 0)
            {
                stores.Add(bytes / perLayer[layers - 1] / 1e6);
                for (int l = 1; l < layers; l++)
                {
                    storeGaps.Add(perLayer[l] - perLayer[l - 1]);
                }
            }
        }

        // The load then store must reproduce every byte.
        for (long off = 0; off < bytes; off += 1 << 30)
        {
            int len = (int)Math.Min(1 << 30, bytes - off);
            long at = TestPattern.FirstDifference(host.AsSpan(off, len), back.AsSpan(off, len));
            if (at >= 0)
            {
                throw new InvalidOperationException($"Round trip through the GPU ({transfer.Path}, {transfer.LayersPerGroup} layers per group) differs at byte {off + at}.");
            }
        }
        return new JsonObject
        {
            ["path"] = transfer.Path.ToString().ToLowerInvariant(),
            ["load_gbs"] = Round(Median(loads)),
            ["store_gbs"] = Round(Median(stores)),
            ["load_first_layer_ms"] = Round(Median(firstLayer)),
            ["load_layer_p50_ms"] = Round(Median(loadGaps)),
            ["load_layer_max_ms"] = Round(Max(loadGaps)),
            ["store_layer_p50_ms"] = Round(Median(storeGaps)),
            ["store_layer_max_ms"] = Round(Max(storeGaps)),
        };
    }

    // One host-to-device copy per page: what a connector without gather/scatter kernels does.
    private static double NaiveLoad(CudaDevice device, CudaStream stream, CudaEvent start, CudaEvent stop, PagedKvGeometry g, GpuPagedKv paged, int[] table, nint[] hostChunks)
    {
        device.Bind();
        start.Record(stream);
        for (int l = 0; l < g.Layers; l++)
        {
            for (int q = 0; q < table.Length; q++)
            {
                int c = q / g.PagesPerChunk;
                int p = q - (c * g.PagesPerChunk);
                for (int kv = 0; kv < 2; kv++)
                {
                    nint src = hostChunks[c] + (nint)g.ChunkOffset(l, kv, p);
                    ulong dst = paged.LayerPointer(l) + (ulong)g.PagedOffset(table[q], kv);
                    CudaDriver.Check(CudaDriver.Api.cuMemcpyHtoDAsync_v2(dst, (void*)src, (nuint)g.PageBytes, stream.Handle), "cuMemcpyHtoDAsync_v2(page)");
                }
            }
        }

        stop.Record(stream);
        stop.Synchronize();
        return (double)table.Length * 2 * g.Layers * g.PageBytes / stop.ElapsedSince(start) / 1e6;
    }

    private static double Median(List<double> v)
    {
        if (v.Count == 0)
        {
            return 0;
        }

        var s = v.ToArray();
        Array.Sort(s);
        return s[(s.Length - 1) / 2];
    }

    private static double Max(List<double> v)
    {
        double m = 0;
        foreach (double x in v)
        {
            m = Math.Max(m, x);
        }

        return m;
    }

    private static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 3) : 0;
}
