using TierKv.Tiers.Slots;

namespace TierKv.Nvme;

/// <summary>Priorities and pins: eviction obeys them like DRAM's; pins are recorded (<see cref="PinJournal"/>) and restored at open.</summary>
public sealed partial class NvmeTier
{
    private readonly Lock _pinRecordLock = new();
    private long _pinRecordErrors;
    private int _pinRecordErrorLogged;

    /// <summary>Pins restored from the record at attach (held chunks whose pin had not expired).</summary>
    public int PinsRestored { get; private set; }

    /// <summary>Whether the record of pins was found damaged at attach (its pins were lost; the chunks stay).</summary>
    public bool PinRecordDamaged { get; private set; }

    /// <summary>Failed rewrites of the record of pins (the pins hold in this run; a restart may lose the latest change).</summary>
    public long PinRecordErrors => Interlocked.Read(ref _pinRecordErrors);

    /// <summary>The priorities and pins this tier obeys (null until a store attaches them).</summary>
    public ChunkPriorities? Priorities => _table.Priorities;

    /// <inheritdoc />
    public void AttachPriorities(ChunkPriorities priorities)
    {
        ArgumentNullException.ThrowIfNull(priorities);
        if (ReferenceEquals(_table.Priorities, priorities))
        {
            return;
        }

        // Priorities recovered from the trailers enter the registry first; the record of pins then adds the pins.
        _table.AttachPriorities(priorities);
        if (PinJournal.TryRead(_options.Directory, out var pins))
        {
            int restored = 0;
            foreach (var p in pins)
            {
                restored += priorities.Restore(p.Key, p.Priority, p.PinnedUntilMs) ? 1 : 0;
            }

            PinsRestored = restored;
        }
        else
        {
            PinRecordDamaged = true;
            Log($"SSD tier '{Name}': the record of pins in '{_options.Directory}' is damaged; its pins are lost (the chunks stay).");
        }

        priorities.PinsChanged += RecordPins;
    }

    private void RecordPins()
    {
        if (_disposed != 0 || _table.Priorities is not { } priorities)
        {
            return;
        }

        lock (_pinRecordLock)
        {
            try
            {
                PinJournal.Write(_options.Directory, priorities.SnapshotPins());
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Interlocked.Increment(ref _pinRecordErrors);
                LogOnce(ref _pinRecordErrorLogged, $"SSD tier '{Name}': could not record pins in '{_options.Directory}' ({ex.Message}); they hold until a restart.");
            }
        }
    }

    private void DetachPriorities()
    {
        if (_table.Priorities is { } p)
        {
            p.PinsChanged -= RecordPins;
        }
    }
}
