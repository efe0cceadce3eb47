using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>Checks whether a directory's file system accepts <c>O_DIRECT</c> reads and writes.</summary>
public static unsafe class DirectIoProbe
{
    /// <summary>
    /// Writes and reads back one aligned block with <c>O_DIRECT</c> in a scratch file of <paramref name="directory"/>
    /// (removed afterwards). Returns whether that worked and, when it did not, why.
    /// </summary>
    public static (bool Direct, string Detail) Check(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = System.IO.Path.Combine(directory, $".tierkv-odirect-probe-{Environment.ProcessId}");
        try
        {
            using var f = BlockFile.Open(path, preferDirect: true);
            if (!f.IsDirect)
            {
                return (false, f.FallbackReason ?? "O_DIRECT refused");
            }

            void* buf = NativeMemory.AlignedAlloc(BlockFile.Alignment, BlockFile.Alignment);
            try
            {
                new Span<byte>(buf, BlockFile.Alignment).Fill(0x5A);
                long w = f.WriteAt((nint)buf, BlockFile.Alignment, 0);
                if (w < 0)
                {
                    return (false, $"O_DIRECT write failed: {BlockFile.Describe(w)}");
                }

                long r = f.ReadAt((nint)buf, BlockFile.Alignment, 0);
                return r < 0 ? (false, $"O_DIRECT read failed: {BlockFile.Describe(r)}") : (true, "O_DIRECT");
            }
            finally
            {
                NativeMemory.AlignedFree(buf);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
