using System.Diagnostics;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Nvme.Io;
using TierKv.Tiers.Slots;

namespace TierKv.Nvme;

/// <summary> Opening the files and the warm restart: scan, verify, keep the newest version of each key.</summary>
public sealed partial class NvmeTier
{
    private BlockFile[] OpenFiles()
    {
        string dir = _options.Directory;
        int fileCount = (_slots + _slotsPerFile - 1) / _slotsPerFile;
        string meta = $"format={MetaFormat}\nslot_stride={_stride}\nslots_per_file={_slotsPerFile}\n";
        string metaPath = System.IO.Path.Combine(dir, MetaFile);
        if (File.Exists(metaPath) && ReadGeometry(metaPath) is { } found && found != meta)
        {
            // Another slot geometry: the old files cannot be read slot by slot, so the tier starts cold.
            Log($"SSD tier '{Name}': '{dir}' holds files of another slot size; starting empty.");
            foreach (var f in Directory.EnumerateFiles(dir, "ssd-*.chunks"))
            {
                File.Delete(f);
            }
        }

        foreach (var f in Directory.EnumerateFiles(dir, "ssd-*.chunks"))
        {
            if (!int.TryParse(System.IO.Path.GetFileNameWithoutExtension(f).AsSpan(4), out int n) || n >= fileCount)
            {
                File.Delete(f); // capacity shrank since the last run
            }
        }

        File.WriteAllText(metaPath, meta);
        var files = new BlockFile[fileCount];
        bool direct = _options.UseDirectIo;
        bool diskFull = false;
        try
        {
            for (int i = 0; i < fileCount; i++)
            {
                int slotsHere = Math.Min(_slotsPerFile, _slots - (i * _slotsPerFile));
                long bytes = slotsHere * _stride;
                var f = files[i] = BlockFile.Open(System.IO.Path.Combine(dir, $"ssd-{i:D5}.chunks"), direct);
                if (f.Length > bytes)
                {
                    f.SetLength(bytes);
                }

                int backed = diskFull ? 0 : Provision(f, bytes, slotsHere);
                if (backed < slotsHere)
                {
                    diskFull = true;
                }

                for (int s = 0; s < slotsHere; s++)
                {
                    _table.SetStateLocked((i * _slotsPerFile) + s, s < backed ? SlotState.Free : SlotState.Unbacked);
                }

                _backedSlots += backed;
                if (i == 0 && direct && !f.ConfirmDirect())
                {
                    direct = false;
                }

                if (i == 0)
                {
                    IsDirect = f.IsDirect;
                    IoMode = f.IsDirect ? "O_DIRECT" : $"buffered ({f.FallbackReason ?? "O_DIRECT not requested"})";
                    if (!f.IsDirect && _options.UseDirectIo)
                    {
                        Log($"SSD tier '{Name}': {f.FallbackReason} in '{dir}'; using buffered I/O (the page cache will hold tier data).");
                    }
                }
            }
        }
        catch
        {
            foreach (var f in files)
            {
                f?.Dispose();
            }

            throw;
        }

        if (diskFull)
        {
            Interlocked.Increment(ref _noSpace);
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "no_space");
            }

            _loggedNoSpace = 1;
            Log($"SSD tier '{Name}': only {_backedSlots} of {_slots} slots fit on the disk under '{dir}'; capacity is {CapacityBytes} bytes.");
        }

        return files;
    }

    /// <summary>
    /// The slot geometry a meta file records, normalised; null when the file is damaged (then the files are scanned with
    /// the current geometry: every slot carries its own verified header, so nothing is discarded for a bad meta file).
    /// </summary>
    private string? ReadGeometry(string metaPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(metaPath);
        }
        catch (IOException)
        {
            text = "";
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 3 && lines[0].StartsWith("format=", StringComparison.Ordinal) && lines[1].StartsWith("slot_stride=", StringComparison.Ordinal)
            && long.TryParse(lines[1].AsSpan(12), out _) && lines[2].StartsWith("slots_per_file=", StringComparison.Ordinal) && int.TryParse(lines[2].AsSpan(15), out _))
        {
            return string.Join('\n', lines) + "\n";
        }

        Log($"SSD tier '{Name}': '{metaPath}' is damaged; rebuilding the index from the slot files with the configured geometry.");
        return null;
    }

    /// <summary>Reserves the file's blocks; returns how many leading slots have disk space.</summary>
    private int Provision(BlockFile f, long bytes, int slots)
    {
        if (!_options.Preallocate)
        {
            return f.SetLength(bytes) == 0 ? slots : 0;
        }

        int e = f.Allocate(0, bytes);
        if (e == 0)
        {
            return slots;
        }

        if (e == LibC.EOpNotSupp)
        {
            // No fallocate here: a sparse file; a full disk then shows as ENOSPC at write time.
            return f.SetLength(bytes) == 0 ? slots : 0;
        }

        // Out of space (or another refusal): take what fits, slot by slot.
        int s = 0;
        while (s < slots && f.Allocate(s * _stride, _stride) == 0)
        {
            s++;
        }

        f.SetLength(Math.Max(s, 1) * _stride);
        return s;
    }

    private unsafe void Recover()
    {
        long t0 = Stopwatch.GetTimestamp();
        var found = new RecoveredSlot[_slots];
        int damaged = 0;
        int scanned = 0;
        var po = new ParallelOptions { MaxDegreeOfParallelism = _options.QueueDepth };
        Parallel.For(
            0,
            _slots,
            po,
            () => DirectIoMemory.Allocate(_stride),
            (slot, _, buffer) =>
            {
                if (_table.StateOf(slot) == SlotState.Unbacked)
                {
                    return buffer;
                }

                Interlocked.Increment(ref scanned);
                var r = ScanSlot(slot, buffer);
                if (r.Damaged)
                {
                    Interlocked.Increment(ref damaged);
                }
                else
                {
                    found[slot] = r;
                }

                return buffer;
            },
            buffer => DirectIoMemory.Free(buffer));

        // Of several copies of one key (an older version whose successor was durable but whose header was not yet
        // zeroed at the crash, or two writes of one content-addressed chunk), the newest version wins; ties go to the
        // later write. The others are zeroed now, so a later delete of the winner cannot bring them back.
        var newest = new Dictionary<ChunkKey, int>();
        var order = new List<int>();
        int duplicates = 0;
        for (int s = 0; s < _slots; s++)
        {
            if (!found[s].Valid)
            {
                continue;
            }

            if (newest.TryGetValue(found[s].Key, out int other))
            {
                int loser = Newer(found[s], found[other]) ? other : s;
                if (loser == other)
                {
                    newest[found[s].Key] = s;
                }

                found[loser].Valid = false;
                ZeroOnOpen(loser);
                duplicates++;
            }
            else
            {
                newest.Add(found[s].Key, s);
            }
        }

        foreach (int s in newest.Values)
        {
            order.Add(s);
        }

        // Publish oldest first so the eviction policy sees the original write order.
        order.Sort((a, b) => found[a].Sequence != found[b].Sequence ? found[a].Sequence.CompareTo(found[b].Sequence) : a.CompareTo(b));
        int recovered = 0;
        long maxSeq = 0;
        lock (_table.Lock)
        {
            foreach (int s in order)
            {
                ref var r = ref found[s];
                PublishLocked(s, r.Key, r.Fingerprint, r.Length, r.HasParent ? r.Parent : null, r.Version, SlotState.Ready);
                if (r.Priority != 0)
                {
                    _table.SetPriorityLocked(s, r.Priority, 0);
                }

                recovered++;
                maxSeq = Math.Max(maxSeq, r.Sequence);
            }

            for (int s = _slots - 1; s >= 0; s--)
            {
                if (_table.StateOf(s) == SlotState.Free)
                {
                    _table.PushFreeLocked(s);
                }
            }
        }

        _sequence = maxSeq;
        int dropped = damaged + duplicates;
        if (damaged > 0 && _counters is not null)
        {
            for (int i = 0; i < damaged; i++)
            {
                _metrics!.RecordChecksumFailure(_counters, "recovery");
            }
        }

        Recovery = new NvmeRecoveryReport(scanned, recovered, damaged, duplicates, Stopwatch.GetElapsedTime(t0));
        if (recovered > 0 || dropped > 0)
        {
            Log($"SSD tier '{Name}': warm restart from '{_options.Directory}': {recovered} chunks recovered, {damaged} damaged slots dropped, {duplicates} older copies zeroed, in {Recovery.Elapsed.TotalMilliseconds:F0} ms ({IoMode}).");
        }
    }

    private static bool Newer(in RecoveredSlot a, in RecoveredSlot b) => a.Version != b.Version ? a.Version > b.Version : a.Sequence > b.Sequence;

    /// <summary>Zeroes the header page of a stale copy found at open (before the tier serves anything).</summary>
    private void ZeroOnOpen(int slot)
    {
        if (FileOf(slot).WriteAt(_zeroPage, BlockFile.Alignment, OffsetOf(slot)) < 0)
        {
            RecordIoError("retire");
        }
    }

    private unsafe RecoveredSlot ScanSlot(int slot, nint buffer)
    {
        var file = FileOf(slot);
        long offset = OffsetOf(slot);
        long r = file.ReadAt(buffer, BlockFile.Alignment, offset);
        if (r < 0)
        {
            return new RecoveredSlot { Damaged = true };
        }

        var page = new ReadOnlySpan<byte>((void*)buffer, (int)r);
        if (!page.ContainsAnyExcept((byte)0))
        {
            return default; // never written, or removed
        }

        if (r < BlockFile.Alignment)
        {
            return new RecoveredSlot { Damaged = true }; // the file ends inside the header page
        }

        var damage = ChunkHeader.TryRead(page[HeaderOffset..], out var header);
        if (damage != ChunkDamage.None || header.PayloadLength <= 0 || header.PayloadLength > _options.SlotBytes)
        {
            return new RecoveredSlot { Damaged = true };
        }

        int len = (int)header.PayloadLength;
        long end = BlockFile.Alignment + NvmeTierOptions.AlignUp(len + (long)SlotTrailer.Size);
        long start = _options.VerifyOnRecovery ? BlockFile.Alignment : (BlockFile.Alignment + len) / BlockFile.Alignment * BlockFile.Alignment;
        long got = file.ReadAt(buffer + (nint)start, end - start, offset + start);
        if (got < 0 || start + got < BlockFile.Alignment + (long)len + SlotTrailer.Size)
        {
            return new RecoveredSlot { Damaged = true };
        }

        if (_options.VerifyOnRecovery)
        {
            var encoded = new ReadOnlySpan<byte>((void*)(buffer + HeaderOffset), ChunkHeader.Size + len);
            if (ChunkCodec.Verify(encoded, header.LayoutFingerprint, header.Key, len, out _) != ChunkDamage.None)
            {
                return new RecoveredSlot { Damaged = true };
            }
        }

        var trailer = new ReadOnlySpan<byte>((void*)(buffer + BlockFile.Alignment + len), SlotTrailer.Size);
        SlotTrailer.TryRead(trailer, header.Key, out long seq, out var parent, out long version, out byte priority);
        return new RecoveredSlot
        {
            Valid = true,
            Key = header.Key,
            Fingerprint = header.LayoutFingerprint,
            Length = len,
            Sequence = seq,
            Version = version,
            HasParent = parent.HasValue,
            Parent = parent ?? default,
            Priority = priority,
        };
    }

    private struct RecoveredSlot
    {
        public bool Valid;
        public bool Damaged;
        public ChunkKey Key;
        public ChunkKey Fingerprint;
        public int Length;
        public long Sequence;
        public long Version;
        public bool HasParent;
        public ChunkKey Parent;
        public byte Priority;
    }
}
