using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>One piece of a vectored read or write: the layout of C's <c>struct iovec</c>.</summary>
/// <param name="Base">Address of the piece.</param>
/// <param name="Length">Bytes in the piece.</param>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct IoSegment(nint Base, nint Length)
{
    /// <summary>
    /// After a short transfer of <paramref name="transferred"/> bytes from piece <paramref name="first"/> on: skips the
    /// pieces done, cuts the one the transfer stopped in, and returns the first piece left (the count when all are done).
    /// </summary>
    internal static int Skip(Span<IoSegment> pieces, int first, long transferred)
    {
        while (first < pieces.Length && transferred >= pieces[first].Length)
        {
            transferred -= pieces[first].Length;
            first++;
        }

        if (first < pieces.Length && transferred > 0)
        {
            pieces[first] = new IoSegment(pieces[first].Base + (nint)transferred, pieces[first].Length - (nint)transferred);
        }

        return first;
    }
}
