using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>One piece of a vectored read or write: the layout of C's <c>struct iovec</c>.</summary>
/// <param name="Base">Address of the piece.</param>
/// <param name="Length">Bytes in the piece.</param>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct IoSegment(nint Base, nint Length);
