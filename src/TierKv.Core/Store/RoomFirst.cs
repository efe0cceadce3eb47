namespace TierKv.Store;

/// <summary>
/// How a DRAM write that will likely push a chunk into the write-behind tier gets room there first (with
/// <see cref="WriteBackOverflow.Wait"/>); each caller of the one DRAM write says which.
/// </summary>
internal enum RoomFirst
{
    /// <summary>A synchronous store: blocks the thread for room, bounded; writes anyway when none came (the sink sheds).</summary>
    Block,

    /// <summary>An asynchronous store: awaits room, bounded; writes anyway when none came (the sink sheds).</summary>
    Await,

    /// <summary>A prefetch: awaits room, bounded; skipped when none came, the chunk stays below.</summary>
    AwaitOrSkip,

    /// <summary>A promotion (a retrieve never waits for writes): room only if there is some now; skipped otherwise.</summary>
    NowOrSkip,
}
