using System.Runtime.InteropServices;

namespace TierKv.Cuda.Interop;

/// <summary>
/// Finds and loads the CUDA driver and NVRTC by probing names and folders, so nothing is loaded until a GPU path is
/// used and a machine without them gets a message naming what is missing.
/// </summary>
internal static class NativeLibraryProbe
{
    /// <summary>Environment variable naming the NVRTC library file to use instead of probing.</summary>
    public const string NvrtcPathVariable = "TIERKV_NVRTC";

    /// <summary>Environment variable naming the CUDA driver library file to use instead of probing.</summary>
    public const string DriverPathVariable = "TIERKV_LIBCUDA";

    private static readonly string[] DriverNames = ["libcuda.so.1", "libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1"];

    // Newest first: a newer NVRTC knows newer architectures.
    private static readonly string[] NvrtcSonames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

    /// <summary>Loads the driver library; null with the names tried when it is absent.</summary>
    public static nint TryLoadDriver(out string tried)
    {
        string? explicitPath = Environment.GetEnvironmentVariable(DriverPathVariable);
        var candidates = string.IsNullOrEmpty(explicitPath) ? DriverNames : [explicitPath];
        return TryLoadAny(candidates, out tried);
    }

    /// <summary>Loads NVRTC (and its builtins library from the same folder); 0 with the places tried when absent.</summary>
    public static nint TryLoadNvrtc(out string tried)
    {
        string? explicitPath = Environment.GetEnvironmentVariable(NvrtcPathVariable);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            PreloadBuiltins(Path.GetDirectoryName(explicitPath));
            return TryLoadAny([explicitPath], out tried);
        }

        // The loader's own search (LD_LIBRARY_PATH, ld.so.cache) first, then the toolkit folders it often misses.
        nint handle = TryLoadAny(NvrtcSonames, out string triedNames);
        if (handle != 0)
        {
            tried = triedNames;
            return handle;
        }

        var files = new List<string>();
        foreach (string dir in CandidateNvrtcFolders())
        {
            foreach (string soname in NvrtcSonames)
            {
                string path = Path.Combine(dir, soname);
                if (File.Exists(path))
                {
                    files.Add(path);
                }
            }
        }

        foreach (string file in files)
        {
            PreloadBuiltins(Path.GetDirectoryName(file));
            if (NativeLibrary.TryLoad(file, out handle))
            {
                tried = file;
                return handle;
            }
        }

        tried = triedNames + (files.Count > 0 ? ", " + string.Join(", ", files) : "") + " and the folders /usr/local/cuda*/targets/*/lib, /usr/local/cuda*/lib64, /usr/lib/x86_64-linux-gnu";
        return 0;
    }

    private static IEnumerable<string> CandidateNvrtcFolders()
    {
        yield return "/usr/local/cuda/targets/x86_64-linux/lib";
        yield return "/usr/local/cuda/lib64";
        if (Directory.Exists("/usr/local"))
        {
            string[] toolkits;
            try
            {
                toolkits = Directory.GetDirectories("/usr/local", "cuda*");
            }
            catch (IOException)
            {
                toolkits = [];
            }
            catch (UnauthorizedAccessException)
            {
                toolkits = [];
            }

            // Newest toolkit first (cuda-13.0 before cuda-12.4).
            Array.Sort(toolkits, StringComparer.Ordinal);
            Array.Reverse(toolkits);
            foreach (string t in toolkits)
            {
                yield return Path.Combine(t, "targets/x86_64-linux/lib");
                yield return Path.Combine(t, "lib64");
            }
        }

        yield return "/usr/lib/x86_64-linux-gnu";
    }

    // NVRTC opens libnvrtc-builtins by soname at compile time; loading it first from the same folder makes that
    // dlopen find it even when the folder is not on LD_LIBRARY_PATH.
    private static void PreloadBuiltins(string? dir)
    {
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
        {
            return;
        }

        string[] builtins;
        try
        {
            builtins = Directory.GetFiles(dir, "libnvrtc-builtins.so*");
        }
        catch (IOException)
        {
            return;
        }

        foreach (string b in builtins)
        {
            _ = NativeLibrary.TryLoad(b, out _);
        }
    }

    private static nint TryLoadAny(string[] candidates, out string tried)
    {
        foreach (string name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out nint handle))
            {
                tried = name;
                return handle;
            }
        }

        tried = string.Join(", ", candidates);
        return 0;
    }
}
