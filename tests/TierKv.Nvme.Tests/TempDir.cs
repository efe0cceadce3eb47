namespace TierKv.Nvme.Tests;

/// <summary>A scratch directory under /var/tmp (a real disk, where O_DIRECT works), removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine("/var/tmp", $"tierkv-nvme-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mount still busy: left for the OS's tmp cleaning.
        }
    }
}
