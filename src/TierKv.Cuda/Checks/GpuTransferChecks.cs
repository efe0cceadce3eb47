using TierKv.Cuda.Memory;
using TierKv.Cuda.Paged;
using TierKv.Cuda.Transfer;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Cuda.Checks;

/// <summary>
/// GPU checks against the CPU reference (<see cref="PagedKvReference"/>): each poisons its outputs first, draws fresh
/// random data and page tables, and throws <see cref="InvalidOperationException"/> naming the first wrong byte. The
/// xunit GPU tests and the device script's NativeAOT runner both call these, so the same code is what runs on a GPU.
/// </summary>
public static unsafe class GpuTransferChecks
{
    private const byte Poison = 0xCD;

    /// <summary>A small layout for checks: 4 layers, 2 KV heads, head dim 64, 64 tokens per chunk.</summary>
    public static KvLayout SmallLayout(KvElementType type) => new("tierkv/gpu-check", 4, 2, 64, type, tokensPerChunk: 64);

    /// <summary>
    /// Scatter (load) and gather (save) of <paramref name="chunks"/> chunks against the CPU reference, chunks in
    /// scattered pinned slots (or back to back when <paramref name="contiguous"/>), then a bit-exact round trip.
    /// </summary>
    public static void RoundTrip(CudaDevice device, KvElementType type, int blockSize, TransferPath path, int layersPerGroup, bool contiguous, int seed, int chunks = 3)
    {
        ArgumentNullException.ThrowIfNull(device);
        var layout = SmallLayout(type);
        int pagesPerChunk = layout.TokensPerChunk / blockSize;
        var geometry = new PagedKvGeometry(layout, blockSize, (chunks * pagesPerChunk * 2) + 3);
        int cb = layout.ChunkBytes;
        int slots = contiguous ? chunks : chunks * 2;
        var rng = new Random(seed);
        using var host = new PinnedHostBuffer(device, (long)slots * cb);
        using var back = new PinnedHostBuffer(device, (long)slots * cb);
        TestPattern.Fill(host.AsSpan(0, slots * cb), (ulong)seed);
        var slotOrder = new int[slots];
        for (int i = 0; i < slots; i++)
        {
            slotOrder[i] = i;
        }

        if (!contiguous)
        {
            rng.Shuffle(slotOrder);
        }

        var hostChunks = new nint[chunks];
        var backChunks = new nint[chunks];
        var source = new byte[chunks * cb];
        for (int c = 0; c < chunks; c++)
        {
            hostChunks[c] = host.Pointer + ((nint)slotOrder[c] * cb);
            backChunks[c] = back.Pointer + ((nint)slotOrder[c] * cb);
            host.AsSpan((long)slotOrder[c] * cb, cb).CopyTo(source.AsSpan(c * cb, cb));
        }

        int[] table = TestPattern.PageTable(chunks * pagesPerChunk, geometry.NumBlocks, seed + 1);
        using var paged = GpuPagedKv.Allocate(device, geometry);
        using var transfer = new LayerwiseKvTransfer(device, geometry, chunks, new KvTransferOptions { Path = path, LayersPerGroup = layersPerGroup });
        string what = $"{KvElementTypes.ShortName(type)}, block size {blockSize}, {path}, {transfer.LayersPerGroup} layers per group, {(contiguous ? "contiguous" : "scattered")} chunks, seed {seed}";

        // Load: the whole paged memory must equal the reference, untouched pages still poisoned.
        paged.Buffer!.Fill(Poison);
        var expected = new byte[geometry.Layers * geometry.LayerTensorBytes];
        expected.AsSpan().Fill(Poison);
        PagedKvReference.Scatter(geometry, source, table, expected);
        transfer.StartLoad(paged, table, hostChunks);
        transfer.WaitLayerLoaded(0);
        transfer.WaitLoad();
        var actual = new byte[expected.Length];
        paged.Buffer.CopyTo(actual);
        Compare(expected, actual, "scatter (load) " + what);

        // Save: gather into poisoned slots must give back the chunks bit for bit.
        back.AsSpan(0, slots * cb).Fill(Poison);
        SaveAll(transfer, paged, table, backChunks);
        var saved = new byte[chunks * cb];
        for (int c = 0; c < chunks; c++)
        {
            new ReadOnlySpan<byte>((void*)backChunks[c], cb).CopyTo(saved.AsSpan(c * cb, cb));
        }

        Compare(source, saved, "round trip " + what);

        // Gather on its own: random paged memory against the CPU gather.
        var randomPaged = new byte[expected.Length];
        TestPattern.Fill(randomPaged, (ulong)seed + 7);
        paged.Buffer.CopyFrom(randomPaged);
        var gathered = new byte[chunks * cb];
        PagedKvReference.Gather(geometry, randomPaged, table, gathered);
        back.AsSpan(0, slots * cb).Fill(Poison);
        SaveAll(transfer, paged, table, backChunks);
        for (int c = 0; c < chunks; c++)
        {
            new ReadOnlySpan<byte>((void*)backChunks[c], cb).CopyTo(saved.AsSpan(c * cb, cb));
        }

        Compare(gathered, saved, "gather (save) " + what);
    }

    /// <summary>
    /// The DRAM tier with a pinned pool: chunks stored in the tier load straight from leased slots into pages, and
    /// pages save straight into reserved slots that then read back bit-exact.
    /// </summary>
    public static void PinnedTierRoundTrip(CudaDevice device, int seed)
    {
        ArgumentNullException.ThrowIfNull(device);
        var layout = SmallLayout(KvElementType.BFloat16);
        const int chunks = 4;
        var geometry = new PagedKvGeometry(layout, 16, (chunks * layout.TokensPerChunk / 16) + 5);
        using var tier = new HostMemoryTier(new HostMemoryTierOptions
        {
            CapacityBytes = (long)layout.ChunkBytes * chunks * 3,
            SlotBytes = layout.ChunkBytes,
            Allocator = new CudaPinnedHostMemoryAllocator(device),
        });
        if (!CudaPinnedHostMemoryAllocator.IsPinned(device, tier.PoolPointer))
        {
            throw new InvalidOperationException("The DRAM tier's pool from CudaPinnedHostMemoryAllocator is not pinned memory.");
        }

        var tokens = new int[chunks * layout.TokensPerChunk];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (i * 31) + seed;
        }

        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        var source = new byte[chunks * layout.ChunkBytes];
        TestPattern.Fill(source, (ulong)seed);
        for (int c = 0; c < chunks; c++)
        {
            var status = tier.Write(layout, keys[c], c == 0 ? null : keys[c - 1], source.AsSpan(c * layout.ChunkBytes, layout.ChunkBytes));
            if (status != TierWriteStatus.Stored)
            {
                throw new InvalidOperationException($"The DRAM tier did not store chunk {c}: {status}.");
            }
        }

        int[] table = TestPattern.PageTable(chunks * geometry.PagesPerChunk, geometry.NumBlocks, seed);
        using var paged = GpuPagedKv.Allocate(device, geometry);
        using var transfer = new LayerwiseKvTransfer(device, geometry, chunks);
        var leases = new ChunkLease[chunks];
        var pointers = new nint[chunks];
        try
        {
            for (int c = 0; c < chunks; c++)
            {
                if (!tier.TryAcquire(keys[c], out leases[c]))
                {
                    throw new InvalidOperationException($"Chunk {c} vanished from the DRAM tier.");
                }

                pointers[c] = leases[c].Pointer;
            }

            paged.Buffer!.Fill(Poison);
            transfer.StartLoad(paged, table, pointers);
            transfer.WaitLoad();
        }
        finally
        {
            foreach (var lease in leases)
            {
                lease.Dispose();
            }
        }

        var expected = new byte[geometry.Layers * geometry.LayerTensorBytes];
        expected.AsSpan().Fill(Poison);
        PagedKvReference.Scatter(geometry, source, table, expected);
        var actual = new byte[expected.Length];
        paged.Buffer.CopyTo(actual);
        Compare(expected, actual, "load from pinned DRAM-tier slots");

        // Save into fresh reservations under new keys, commit, read back.
        var saveTokens = new int[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            saveTokens[i] = tokens[i] + 1_000_000;
        }

        var saveKeys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, saveTokens);
        var reservations = new ChunkWriteReservation[chunks];
        for (int c = 0; c < chunks; c++)
        {
            if (tier.TryBeginWrite(saveKeys[c], layout.ChunkBytes, out reservations[c]) != TierWriteStatus.Stored)
            {
                throw new InvalidOperationException($"The DRAM tier reserved no slot for saved chunk {c}.");
            }

            pointers[c] = reservations[c].Pointer;
            new Span<byte>((void*)pointers[c], layout.ChunkBytes).Fill(Poison);
        }

        SaveAll(transfer, paged, table, pointers);
        var readBack = new byte[layout.ChunkBytes];
        for (int c = 0; c < chunks; c++)
        {
            tier.CommitWrite(layout, reservations[c], c == 0 ? null : saveKeys[c - 1]);
            if (!tier.TryRead(saveKeys[c], readBack))
            {
                throw new InvalidOperationException($"Saved chunk {c} is not readable from the DRAM tier.");
            }

            Compare(source.AsSpan(c * layout.ChunkBytes, layout.ChunkBytes), readBack, $"save into DRAM-tier slot, chunk {c}");
        }
    }

    /// <summary>A failing driver call surfaces as a <see cref="CudaException"/> naming the call and the error.</summary>
    public static void ErrorsNameTheCall(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        try
        {
            using var huge = new DeviceBuffer(device, 1L << 50);
        }
        catch (CudaException ex) when (ex.Message.Contains("cuMemAlloc_v2", StringComparison.Ordinal) && ex.ErrorName.Length > 0)
        {
            return;
        }

        throw new InvalidOperationException("Allocating 1 PiB of device memory did not throw a CudaException naming cuMemAlloc_v2.");
    }

    private static void SaveAll(LayerwiseKvTransfer transfer, GpuPagedKv paged, int[] table, nint[] hostChunks)
    {
        transfer.StartSave(paged, table, hostChunks);
        transfer.SaveRemainingLayers();
        transfer.WaitSaves();
    }

    private static void Compare(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        long at = TestPattern.FirstDifference(expected, actual);
        if (at >= 0)
        {
            string e = at < expected.Length ? expected[(int)at].ToString("x2", System.Globalization.CultureInfo.InvariantCulture) : "end";
            string a = at < actual.Length ? actual[(int)at].ToString("x2", System.Globalization.CultureInfo.InvariantCulture) : "end";
            throw new InvalidOperationException($"{what}: first wrong byte at {at} (expected {e}, got {a}).");
        }
    }
}
