using TierKv.Chunks;
using TierKv.Memory;
using TierKv.Nvme;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench ssd</c>: in one directory and at one queue depth, raw <c>O_DIRECT</c> sequential writes and reads of
/// chunk-sized blocks (the baseline), then the SSD tier's store and retrieve of the same volume, repetitions
/// interleaved so drift hits both alike, then single random chunk reads for latency.
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
        long stride = NvmeTierOptions.AlignUp(ChunkHeader.Size + (long)cb + 64);
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
        var rawBuffers = new NativeBuffers(qd, stride);
        for (int i = 0; i < qd; i++)
        {
            source.Span(i % distinct, cb).CopyTo(rawBuffers.Span(i, cb));
        }

        var rawWrite = new List<double>();
        var rawRead = new List<double>();
        var put = new List<double>();
        var get = new List<double>();
        var lat = new List<double>();
        var underWrites = new List<double>();
        var rawUnderWrites = new List<double>();
        string ioMode;
        string submission;
        int writesDuringReads;
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

                // Raw and tier alternate in slices of the volume, so a shared disk's changing load hits both alike.
                double w = 0, p = 0, rr = 0, g = 0;
                // Which goes first alternates by repetition, so neither always meets a disk cache the other filled.
                bool rawFirst = r % 2 == 0;
                for (int first = 0; first < n; first += Slice)
                {
                    int count = Math.Min(Slice, n - first);
                    w += rawFirst ? RawPass(raw, rawBuffers, first, count, stride, write: true, qd) : 0;
                    p += await PutPass(tier, layout, keys, first, count, source, distinct, window).ConfigureAwait(false);
                    w += rawFirst ? 0 : RawPass(raw, rawBuffers, first, count, stride, write: true, qd);
                }

                for (int first = 0; first < n; first += Slice)
                {
                    int count = Math.Min(Slice, n - first);
                    rr += rawFirst ? RawPass(raw, rawBuffers, first, count, stride, write: false, qd) : 0;
                    g += await GetPass(tier, layout, keys, first, count, dest, window).ConfigureAwait(false);
                    rr += rawFirst ? 0 : RawPass(raw, rawBuffers, first, count, stride, write: false, qd);
                }

                // The first repetition warms up (JIT, file extents) and is not counted in the medians.
                rawWrite.Add(volume / w / 1e9);
                put.Add(volume / p / 1e9);
                rawRead.Add(volume / rr / 1e9);
                get.Add(volume / g / 1e9);
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
            source.Dispose();
            dest.Dispose();
            rawBuffers.Dispose();
            Directory.Delete(work, recursive: true);
        }

        double rw = Stats.Median(rawWrite[1..]);
        double rd = Stats.Median(rawRead[1..]);
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
            ["raw_write_reps_gbs"] = Series(rawWrite),
            ["put_reps_gbs"] = Series(put),
            ["raw_read_reps_gbs"] = Series(rawRead),
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

    /// <summary>Sequential blocks of the raw file, <paramref name="qd"/> threads each with its own buffer; returns seconds.</summary>
    private static double RawPass(BlockFile file, NativeBuffers buffers, int firstBlock, int n, long stride, bool write, int qd)
    {
        int next = firstBlock - 1;
        n += firstBlock;
        long failed = 0;
        var threads = new Thread[qd];
        long t0 = Stopwatch.GetTimestamp();
        for (int t = 0; t < qd; t++)
        {
            nint buf = buffers.Pointer(t);
            threads[t] = new Thread(() =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < n)
                {
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
