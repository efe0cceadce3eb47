using System.Buffers;

namespace TierKv.Remote;

/// <summary>
/// A piece of a value sent as a sequence: the 64-byte chunk header, then the caller's payload as it is. The client
/// writes the pieces to the socket one after the other, so a 32 MiB payload is never copied into a staging buffer.
/// </summary>
internal sealed class ValueSegment : ReadOnlySequenceSegment<byte>
{
    public ValueSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Links <paramref name="memory"/> after this segment and returns it.</summary>
    public ValueSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new ValueSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }

    /// <summary>Header followed by payload, as one sequence.</summary>
    public static ReadOnlySequence<byte> Concat(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload)
    {
        var first = new ValueSegment(header, 0);
        var last = first.Append(payload);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
