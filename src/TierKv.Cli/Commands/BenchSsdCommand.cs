using TierKv.Memory;
using TierKv.Nvme;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench ssd</c>: in one directory and at one queue depth, raw <c>O_DIRECT</c> sequential writes and reads of
/// slot-sized blocks on blocking threads and on one io_uring (the baseline is the faster), and the SSD tier's store and
/// retrieve of the same volume from the same memory, the passes' order changing every repetition so drift hits all
/// alike; then single random chunk reads for latency, and reads under a write burst.
/// </summary>
internal sealed class BenchSsdCommand : AsyncCommand<BenchSsdCommand.Settings>
{
    /// <summary>Chunks per alternating slice of raw and tier I/O.</summary>
    private const int Slice = 48;

    public sealed class Settings : ModelSettings
    {
        [CommandOption("--dir")]
        [Description("Directory on the SSD to benchmark in (files are removed afterwards).")]
        public string? Dir { get; init; }

        [CommandOption("--chunks")]
        [Description("Chunks moved per repetition (the volume).")]
        [DefaultValue(48)]
        public int Chunks { get; init; } = 48;

        [CommandOption("--reps")]
        [Description("Repetitions; medians are reported.")]
        [DefaultValue(6)]
        public int Reps { get; init; } = 6;

        [CommandOption("--qd")]
        [Description("I/Os in flight, for the raw baseline and the tier alike.")]
        [DefaultValue(8)]
        public int QueueDepth { get; init; } = 8;

        [CommandOption("--random-reads")]
        [Description("Timed single random chunk reads.")]
        [DefaultValue(48)]
        public int RandomReads { get; init; } = 48;

        [CommandOption("--reads-under-writes")]
        [Description("Timed single chunk reads of the tier, and as many raw reads, while the tier writes a burst.")]
        [DefaultValue(100)]
        public int ReadsUnderWrites { get; init; } = 100;

        [CommandOption("--submission")]
        [Description("How the tier's I/O reaches the device: auto, threads or io_uring.")]
        [DefaultValue("auto")]
        public string Submission { get; init; } = "auto";

        [CommandOption("--writes-during-reads")]
        [Description("Writes the tier keeps in the device while a read waits or runs (io_uring path; 0: the queue depth, no read preference; default: the tier's).")]
        public int? WritesDuringReads { get; init; }

        /// <summary>The <see cref="Submission"/> value as the tier's option, or null when it names none.</summary>
        public IoSubmission? SubmissionMode => Submission.ToLowerInvariant() switch
        {
            "auto" => IoSubmission.Auto,
            "threads" => IoSubmission.Threads,
            "io_uring" or "iouring" => IoSubmission.IoUring,
            _ => null,
        };

        public override ValidationResult Validate() => SettingsRules.Check(
            (string.IsNullOrWhiteSpace(Dir), "--dir is required: a directory on the SSD to benchmark in."),
            (Chunks is < 2 or > 100_000, "--chunks must be in [2, 100000]."),
            (Reps is < 1 or > 100, "--reps must be in [1, 100]."),
            (QueueDepth is < 1 or > 256, "--qd must be in [1, 256]."),
            (RandomReads < 1, "--random-reads must be at least 1."),
            (ReadsUnderWrites < 1, "--reads-under-writes must be at least 1."),
            (SubmissionMode is null, "--submission must be auto, threads or io_uring."),
            (WritesDuringReads is < 0 or > 256, "--writes-during-reads must be in [0, 256]."));
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = settings.Shape();
        var layout = shape.Layout;
        int cb = layout.ChunkBytes;
        int n = settings.Chunks;
        int qd = settings.QueueDepth;
        long volume = (long)cb * n;
        string root = Path.GetFullPath(settings.Dir!);
        string work = Path.Combine(root, $"tierkv-bench-ssd-{Environment.ProcessId}");
        var log = settings.ProgressConsole();
        Directory.CreateDirectory(work);
        var (direct, detail) = DirectIoProbe.Check(work);
        log?.MarkupLine($"[grey]bench ssd in {Markup.Escape(root)}: {n} chunks of {cb >> 20} MiB ({volume >> 20} MiB), qd {qd}, {settings.Reps} repetitions, {Markup.Escape(detail)}[/]");

        // Distinct source chunks (reused round-robin over the volume) and one destination per I/O in flight.
        int distinct = Math.Min(n, Math.Max(2 * qd, 4));
        // A raw block is as long as the tier's slot (header page, payload, trailer page): both move the same bytes.
        long stride = new NvmeTierOptions { Directory = root, SlotBytes = cb }.SlotStride;
        var source = new NativeBuffers(distinct, stride);
        var rng = new Random(42);
        for (int i = 0; i < distinct; i++)
        {
            rng.NextBytes(source.Span(i, cb));
        }

        // The caller keeps the tier's staging buffers busy (twice the queue depth): the tier itself bounds the I/Os in
        // flight to the queue depth, so checksumming one chunk overlaps the disk's work on the others.
        int window = 2 * qd;
        var dest = new NativeBuffers(window, stride);

        // Raw and tier move the same blocks from and into the same memory: block i is written from source i % distinct
        // and read into lane i % window, whichever side moves it (how contiguous a buffer is physically changes a
        // transfer's speed: docs/ssd-tier.md, "Where the write path lost time").
        var writeFrom = source.Pointers;
        var readInto = dest.Pointers;

        var rawWriteThreads = new List<double>();
        var rawWriteRing = new List<double>();
        var rawReadThreads = new List<double>();
        var rawReadRing = new List<double>();
        var put = new List<double>();
        var get = new List<double>();
        var lat = new List<double>();
        var underWrites = new List<double>();
        var rawUnderWrites = new List<double>();
        string ioMode;
        string submission;
        string rawRingState;
        int writesDuringReads;
        RawRing? ring = null;
        try
        {
            string rawPath = Path.Combine(work, "raw.blocks");
            using var raw = BlockFile.Open(rawPath, preferDirect: true);
            int alloc = raw.Allocate(0, stride * n);
            if (alloc != 0 && raw.SetLength(stride * n) != 0)
            {
                throw new IOException($"Cannot size the benchmark file in '{work}' to {stride * n} bytes.");
            }

            raw.ConfirmDirect();

            // The baseline is the faster of two ways to drive the disk raw: blocking threads, and one io_uring (the tier's
            // default path), each with qd transfers in flight.
            ring = RawRing.TryCreate(qd, out string ringFailure);
            rawRingState = ring is null ? $"unavailable: {ringFailure}" : "io_uring";
            using var tier = new NvmeTier(new NvmeTierOptions
            {
                Directory = Path.Combine(work, "tier"),
                CapacityBytes = volume,
                SlotBytes = cb,
                QueueDepth = qd,
                EvictionPolicy = "lru", // each repetition's fresh chunks replace the last one's, whatever the default policy
                Submission = settings.SubmissionMode!.Value,
                WritesDuringReads = settings.WritesDuringReads ?? new NvmeTierOptions().WritesDuringReads,
                Log = settings.Json ? static _ => { } : null,
            });
            ioMode = tier.IoMode;
            submission = tier.Submission;
            writesDuringReads = tier.Options.EffectiveWritesDuringReads;
            ChunkKey[] keys = [];
            for (int r = 0; r < settings.Reps + 1; r++)
            {
                // Fresh keys each repetition: the tier writes (and evicts) rather than finding them present.
                keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, BenchTokens.Distinct(n * layout.TokensPerChunk, offset: r));

                // Which side goes first, second and third changes every repetition (all orders in turn), so neither meets
                // a disk or host cache that another filled more often than the others; raw and tier alternate in slices
                // of the volume, so a shared disk's changing load hits all alike.
                var sides = PassOrder(r, ring is not null);
                var (wt, wu, p) = await Passes(sides, write: true).ConfigureAwait(false);
                var (rt, ru, g) = await Passes(sides, write: false).ConfigureAwait(false);

                // The first repetition warms up (JIT, file extents) and is not counted in the medians.
                rawWriteThreads.Add(volume / wt / 1e9);
                rawReadThreads.Add(volume / rt / 1e9);
                if (ring is not null)
                {
                    rawWriteRing.Add(volume / wu / 1e9);
                    rawReadRing.Add(volume / ru / 1e9);
                }

                put.Add(volume / p / 1e9);
                get.Add(volume / g / 1e9);
            }

            // One pass over the volume for each side, raw and tier alternating in slices; seconds of each side.
            async Task<(double Threads, double Ring, double Tier)> Passes(Side[] sides, bool write)
            {
                var buffers = write ? writeFrom : readInto;
                double threads = 0, uring = 0, tiered = 0;
                for (int first = 0; first < n; first += Slice)
                {
                    int count = Math.Min(Slice, n - first);
                    foreach (var side in sides)
                    {
                        switch (side)
                        {
                            case Side.Threads: threads += RawPass(raw, buffers, first, count, stride, write, qd); break;
                            case Side.Ring: uring += RingPass(ring!, raw, buffers, first, count, stride, write); break;
                            default:
                                tiered += write
                                    ? await PutPass(tier, layout, keys, first, count, source, distinct, window).ConfigureAwait(false)
                                    : await GetPass(tier, layout, keys, first, count, dest, window).ConfigureAwait(false);
                                break;
                        }
                    }
                }

                return (threads, uring, tiered);
            }

            // Correctness: every chunk comes back with the bytes that were stored.
            for (int i = 0; i < n; i++)
            {
                var s = await tier.ReadAsync(layout, keys[i], dest.Memory(0, cb)).ConfigureAwait(false);
                if (s != TierReadStatus.Hit || !dest.Span(0, cb).SequenceEqual(source.Span(i % distinct, cb)))
                {
                    throw new InvalidOperationException($"Chunk {i} did not come back intact from the SSD tier ({s}).");
                }
            }

            var order = new Random(7);
            for (int i = 0; i < settings.RandomReads; i++)
            {
                var key = keys[order.Next(n)];
                long t0 = Stopwatch.GetTimestamp();
                var s = await tier.ReadAsync(layout, key, dest.Memory(0, cb)).ConfigureAwait(false);
                lat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                if (s != TierReadStatus.Hit)
                {
                    throw new InvalidOperationException($"Random read of a stored chunk returned {s}.");
                }
            }

            // Last: it removes half of the stored chunks to make room for its write burst.
            await ReadsUnderWritesAsync(tier, raw, layout, keys, stride, source, distinct, dest, settings.ReadsUnderWrites, underWrites, rawUnderWrites).ConfigureAwait(false);
        }
        finally
        {
            ring?.Dispose();
            source.Dispose();
            dest.Dispose();
            Directory.Delete(work, recursive: true);
        }

        double rwt = Stats.Median(rawWriteThreads[1..]);
        double rdt = Stats.Median(rawReadThreads[1..]);
        double rwu = rawWriteRing.Count > 0 ? Stats.Median(rawWriteRing[1..]) : 0;
        double rdu = rawReadRing.Count > 0 ? Stats.Median(rawReadRing[1..]) : 0;
        double rw = Math.Max(rwt, rwu);
        double rd = Math.Max(rdt, rdu);
        double pg = Stats.Median(put[1..]);
        double gg = Stats.Median(get[1..]);
        var report = new CommandReport(new JsonObject
        {
            ["bench"] = "ssd",
            ["dir"] = root,
            ["model"] = shape.Name,
            ["chunk_bytes"] = cb,
            ["chunks"] = n,
            ["volume_bytes"] = volume,
            ["queue_depth"] = qd,
            ["reps"] = settings.Reps,
            ["direct"] = direct,
            ["io_mode"] = ioMode,
            ["submission"] = submission,
            ["writes_during_reads"] = writesDuringReads,
            ["raw_write_gbs"] = JsonOutput.Round(rw),
            ["raw_read_gbs"] = JsonOutput.Round(rd),
            ["raw_write_threads_gbs"] = JsonOutput.Round(rwt),
            ["raw_write_io_uring_gbs"] = JsonOutput.Round(rwu),
            ["raw_read_threads_gbs"] = JsonOutput.Round(rdt),
            ["raw_read_io_uring_gbs"] = JsonOutput.Round(rdu),
            ["raw_io_uring"] = rawRingState,
            ["put_gbs"] = JsonOutput.Round(pg),
            ["get_gbs"] = JsonOutput.Round(gg),
            ["put_vs_raw"] = JsonOutput.Round(pg / rw),
            ["get_vs_raw"] = JsonOutput.Round(gg / rd),
            ["read_p50_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.50), 1),
            ["read_p99_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.99), 1),
            ["random_reads"] = lat.Count,
            ["read_p50_under_writes_us"] = JsonOutput.Round(Stats.Percentile(underWrites, 0.50), 1),
            ["read_p99_under_writes_us"] = JsonOutput.Round(Stats.Percentile(underWrites, 0.99), 1),
            ["raw_read_p50_under_writes_us"] = JsonOutput.Round(Stats.Percentile(rawUnderWrites, 0.50), 1),
            ["raw_read_p99_under_writes_us"] = JsonOutput.Round(Stats.Percentile(rawUnderWrites, 0.99), 1),
            ["reads_under_writes"] = underWrites.Count,
            ["raw_write_threads_reps_gbs"] = Series(rawWriteThreads),
            ["raw_write_io_uring_reps_gbs"] = Series(rawWriteRing),
            ["put_reps_gbs"] = Series(put),
            ["raw_read_threads_reps_gbs"] = Series(rawReadThreads),
            ["raw_read_io_uring_reps_gbs"] = Series(rawReadRing),
            ["get_reps_gbs"] = Series(get),
        });
        return report.Table("measure", "TierKV SSD tier", "raw (same run)", "ratio")
            .Row("store (put)", $"{report["put_gbs"]} GB/s", $"{report["raw_write_gbs"]} GB/s", report["put_vs_raw"])
            .Row("retrieve (get)", $"{report["get_gbs"]} GB/s", $"{report["raw_read_gbs"]} GB/s", report["get_vs_raw"])
            .Row("random chunk read", $"p50 {report["read_p50_us"]} us, p99 {report["read_p99_us"]} us", "", "")
            .Row("chunk read under writes", $"p50 {report["read_p50_under_writes_us"]} us, p99 {report["read_p99_under_writes_us"]} us", $"p50 {report["raw_read_p50_under_writes_us"]} us, p99 {report["raw_read_p99_under_writes_us"]} us", "")
            .Row("I/O mode", Markup.Escape(ioMode), "", "")
            .Write(settings.Json);
    }

    /// <summary>Every repetition's figure in order, the warm-up first (not in the medians).</summary>
    private static JsonArray Series(List<double> gbs)
    {
        var a = new JsonArray();
        foreach (var v in gbs)
        {
            a.Add(JsonOutput.Round(v));
        }

        return a;
    }

    /// <summary>
    /// Chunk reads while the tier writes: a background loop keeps a write burst going through the tier (fresh chunks,
    /// 2 x qd in flight, removed again after each burst so the tier never evicts what is read), and single reads
    /// alternate between the tier (a stored chunk) and the raw file (the same block index), the order flipping each
    /// pair, so both meet the same write load at the same moments.
    /// </summary>
    private static async Task ReadsUnderWritesAsync(NvmeTier tier, BlockFile raw, KvLayout layout, ChunkKey[] keys, long stride, NativeBuffers source, int distinct, NativeBuffers dest, int pairs, List<double> tierLat, List<double> rawLat)
    {
        int cb = layout.ChunkBytes;
        int n = keys.Length;
        int half = n / 2;

        // Room for a burst: the older half goes, the reads use the newer half.
        for (int i = 0; i < half; i++)
        {
            await tier.RemoveAsync(keys[i]).ConfigureAwait(false);
        }

        using var stop = new CancellationTokenSource();
        int window = Math.Max(2, tier.Options.EffectiveStagingBuffers);
        var writer = Task.Run(async () =>
        {
            for (int burst = 0; !stop.IsCancellationRequested; burst++)
            {
                var fresh = PrefixHasher.ComputeKeys(layout, TenantSalt.None, BenchTokens.Distinct(half * layout.TokensPerChunk, offset: 1000 + burst));
                await PutPass(tier, layout, fresh, 0, half, source, distinct, window).ConfigureAwait(false);
                foreach (var k in fresh)
                {
                    await tier.RemoveAsync(k).ConfigureAwait(false);
                }
            }
        });

        try
        {
            // Let the burst fill the device's queue before the first sample (a 32 MiB write takes tens of milliseconds).
            await Task.Delay(50).ConfigureAwait(false);

            var order = new Random(11);
            var tierDest = dest.Memory(0, cb);
            nint rawDest = dest.Pointer(1);
            for (int i = 0; i < pairs && !writer.IsCompleted; i++)
            {
                int block = half + order.Next(n - half);
                for (int side = 0; side < 2; side++)
                {
                    if ((side == 0) == (i % 2 == 0))
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        var s = await tier.ReadAsync(layout, keys[block], tierDest).ConfigureAwait(false);
                        tierLat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                        if (s != TierReadStatus.Hit)
                        {
                            throw new InvalidOperationException($"A chunk read under writes returned {s}.");
                        }
                    }
                    else
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        long r = raw.ReadAt(rawDest, stride, block * stride);
                        rawLat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                        if (r != stride)
                        {
                            throw new IOException($"A raw read under writes failed in '{raw.Path}'.");
                        }
                    }
                }
            }
        }
        finally
        {
            stop.Cancel();
            await writer.ConfigureAwait(false);
        }
    }

    private enum Side
    {
        Tier,
        Threads,
        Ring,
    }

    /// <summary>The order of the passes in repetition <paramref name="r"/>: every order in turn (6 of 3 sides, 2 of 2).</summary>
    private static Side[] PassOrder(int r, bool withRing)
    {
        if (!withRing)
        {
            return r % 2 == 0 ? [Side.Threads, Side.Tier] : [Side.Tier, Side.Threads];
        }

        Side[] sides = [Side.Threads, Side.Tier, Side.Ring];
        int rot = r % 3;
        Side[] o = [sides[rot], sides[(rot + 1) % 3], sides[(rot + 2) % 3]];
        return (r / 3) % 2 == 0 ? o : [o[2], o[1], o[0]];
    }

    /// <summary>
    /// Sequential blocks of the raw file, <paramref name="qd"/> blocking threads taking the next block in turn; block i
    /// from or into <c>buffers[i % buffers.Length]</c>; returns seconds.
    /// </summary>
    private static double RawPass(BlockFile file, nint[] buffers, int firstBlock, int n, long stride, bool write, int qd)
    {
        int next = firstBlock - 1;
        n += firstBlock;
        long failed = 0;
        var threads = new Thread[qd];
        long t0 = Stopwatch.GetTimestamp();
        for (int t = 0; t < qd; t++)
        {
            threads[t] = new Thread(() =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < n)
                {
                    nint buf = buffers[i % buffers.Length];
                    long r = write ? file.WriteAt(buf, stride, i * stride) : file.ReadAt(buf, stride, i * stride);
                    if (r != stride)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
            });
            threads[t].Start();
        }

        foreach (var th in threads)
        {
            th.Join();
        }

        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return failed > 0 ? throw new IOException($"{failed} raw {(write ? "writes" : "reads")} failed in '{file.Path}'.") : s;
    }

    /// <summary>The same blocks through one io_uring on this thread, the queue depth in flight; returns seconds.</summary>
    private static double RingPass(RawRing ring, BlockFile file, nint[] buffers, int firstBlock, int n, long stride, bool write)
    {
        long t0 = Stopwatch.GetTimestamp();
        int failed = ring.Run(file, buffers, stride, firstBlock, n, write);
        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return failed > 0 ? throw new IOException($"{failed} raw io_uring {(write ? "writes" : "reads")} failed in '{file.Path}'.") : s;
    }

    private static async Task<double> PutPass(NvmeTier tier, KvLayout layout, ChunkKey[] keys, int firstChunk, int count, NativeBuffers source, int distinct, int qd)
    {
        int cb = layout.ChunkBytes;
        var inflight = new List<Task<TierWriteStatus>>(qd);
        long t0 = Stopwatch.GetTimestamp();
        for (int i = firstChunk; i < firstChunk + count; i++)
        {
            ChunkKey? parent = i > 0 ? keys[i - 1] : null;
            inflight.Add(tier.WriteAsync(layout, keys[i], parent, source.Memory(i % distinct, cb)).AsTask());
            if (inflight.Count >= qd)
            {
                var done = await Task.WhenAny(inflight).ConfigureAwait(false);
                inflight.Remove(done);
                Expect(await done.ConfigureAwait(false));
            }
        }

        foreach (var t in inflight)
        {
            Expect(await t.ConfigureAwait(false));
        }

        return Stopwatch.GetElapsedTime(t0).TotalSeconds;

        static void Expect(TierWriteStatus s)
        {
            if (s != TierWriteStatus.Stored)
            {
                throw new InvalidOperationException($"The SSD tier declined a chunk ({s}).");
            }
        }
    }

    private static async Task<double> GetPass(NvmeTier tier, KvLayout layout, ChunkKey[] keys, int firstChunk, int count, NativeBuffers dest, int qd)
    {
        int cb = layout.ChunkBytes;
        var inflight = new Task<TierReadStatus>[qd];
        long t0 = Stopwatch.GetTimestamp();
        for (int i = firstChunk; i < firstChunk + count; i++)
        {
            int lane = i % qd;
            if (inflight[lane] is { } prev)
            {
                Expect(await prev.ConfigureAwait(false));
            }

            inflight[lane] = tier.ReadAsync(layout, keys[i], dest.Memory(lane, cb)).AsTask();
        }

        foreach (var t in inflight)
        {
            if (t is not null)
            {
                Expect(await t.ConfigureAwait(false));
            }
        }

        return Stopwatch.GetElapsedTime(t0).TotalSeconds;

        static void Expect(TierReadStatus s)
        {
            if (s != TierReadStatus.Hit)
            {
                throw new InvalidOperationException($"The SSD tier missed a stored chunk ({s}).");
            }
        }
    }

    /// <summary>Page-aligned native buffers, one per lane.</summary>
    private sealed unsafe class NativeBuffers : IDisposable
    {
        private readonly nint[] _pointers;
        private readonly NativeMemoryManager[] _managers;
        private readonly long _bytes;

        public NativeBuffers(int count, long bytes)
        {
            _bytes = bytes;
            _pointers = new nint[count];
            _managers = new NativeMemoryManager[count];
            for (int i = 0; i < count; i++)
            {
                // The same memory for the raw baseline and the tier's callers: huge pages where the kernel allows.
                _pointers[i] = DirectIoMemory.Allocate(bytes);
                _managers[i] = new NativeMemoryManager(_pointers[i], (int)bytes);
            }
        }

        public nint Pointer(int i) => _pointers[i];

        public nint[] Pointers => _pointers;

        public Span<byte> Span(int i, int length) => new((void*)_pointers[i], Math.Min(length, (int)_bytes));

        public Memory<byte> Memory(int i, int length) => _managers[i].Memory[..length];

        public void Dispose()
        {
            foreach (var p in _pointers)
            {
                DirectIoMemory.Free(p);
            }
        }
    }
}
