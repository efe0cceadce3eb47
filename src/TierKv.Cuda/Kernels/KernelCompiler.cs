using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using TierKv.Cuda.Interop;

namespace TierKv.Cuda.Kernels;

/// <summary>Compiles the project's <c>.cu</c> kernels (embedded resources) with NVRTC for a given architecture.</summary>
public static unsafe class KernelCompiler
{
    /// <summary>Name of the gather/scatter kernel source.</summary>
    public const string KvTransferSource = "kv_transfer.cu";

    /// <summary>The text of an embedded kernel source, e.g. <see cref="KvTransferSource"/>.</summary>
    public static string ReadSource(string fileName)
    {
        using var stream = typeof(KernelCompiler).Assembly.GetManifestResourceStream("TierKv.Cuda.Kernels." + fileName)
            ?? throw new ArgumentException($"No embedded kernel source named {fileName}.", nameof(fileName));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>NVRTC's version, e.g. (12, 4); throws <see cref="GpuUnavailableException"/> without NVRTC.</summary>
    public static (int Major, int Minor) NvrtcVersion()
    {
        var api = Nvrtc.Api;
        int major, minor;
        Nvrtc.Check(api.nvrtcVersion(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for compute capability <paramref name="major"/>.<paramref name="minor"/>:
    /// machine code (cubin) when this NVRTC knows the architecture, else PTX of the newest one it knows below it, which
    /// the driver compiles on load. Compile errors throw a <see cref="CudaException"/> carrying NVRTC's log.
    /// </summary>
    public static CompiledKernels Compile(string source, string name, int major, int minor)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var api = Nvrtc.Api;
        long t0 = Stopwatch.GetTimestamp();
        int wanted = (major * 10) + minor;
        int count;
        Nvrtc.Check(api.nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
        var archs = new int[count];
        fixed (int* a = archs)
        {
            Nvrtc.Check(api.nvrtcGetSupportedArchs(a), "nvrtcGetSupportedArchs");
        }

        bool cubin = Array.IndexOf(archs, wanted) >= 0;
        int arch = wanted;
        if (!cubin)
        {
            arch = 0;
            foreach (int a in archs)
            {
                if (a <= wanted && a > arch)
                {
                    arch = a;
                }
            }

            if (arch == 0)
            {
                throw new GpuUnavailableException($"NVRTC ({Nvrtc.LoadedFrom}) supports none of the architectures up to sm_{wanted} of this GPU.");
            }
        }

        string archOption = (cubin ? "--gpu-architecture=sm_" : "--gpu-architecture=compute_") + arch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] options = [archOption, "--std=c++17", "-default-device"];
        nint prog = 0;
        byte[] src = NullTerminated(source);
        byte[] progName = NullTerminated(name);
        fixed (byte* s = src)
        fixed (byte* n = progName)
        {
            Nvrtc.Check(api.nvrtcCreateProgram(&prog, s, n, 0, null, null), "nvrtcCreateProgram");
        }

        try
        {
            var optionBytes = new byte[options.Length][];
            var handles = new GCHandle[options.Length];
            var pointers = stackalloc byte*[options.Length];
            try
            {
                for (int i = 0; i < options.Length; i++)
                {
                    optionBytes[i] = NullTerminated(options[i]);
                    handles[i] = GCHandle.Alloc(optionBytes[i], GCHandleType.Pinned);
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }

                int status = api.nvrtcCompileProgram(prog, options.Length, pointers);
                string log = ProgramLog(api, prog);
                if (status != 0)
                {
                    throw new CudaException($"nvrtcCompileProgram failed for {name} ({archOption}, NVRTC at {Nvrtc.LoadedFrom}): {log}");
                }

                nuint size;
                byte[] image;
                if (cubin)
                {
                    Nvrtc.Check(api.nvrtcGetCUBINSize(prog, &size), "nvrtcGetCUBINSize");
                    image = new byte[size];
                    fixed (byte* p = image)
                    {
                        Nvrtc.Check(api.nvrtcGetCUBIN(prog, p), "nvrtcGetCUBIN");
                    }
                }
                else
                {
                    Nvrtc.Check(api.nvrtcGetPTXSize(prog, &size), "nvrtcGetPTXSize");
                    image = new byte[size];
                    fixed (byte* p = image)
                    {
                        Nvrtc.Check(api.nvrtcGetPTX(prog, p), "nvrtcGetPTX");
                    }
                }

                return new CompiledKernels(image, cubin, archOption, Stopwatch.GetElapsedTime(t0).TotalMilliseconds, log);
            }
            finally
            {
                foreach (var h in handles)
                {
                    if (h.IsAllocated)
                    {
                        h.Free();
                    }
                }
            }
        }
        finally
        {
            _ = api.nvrtcDestroyProgram(&prog);
        }
    }

    private static string ProgramLog(Nvrtc.Functions api, nint prog)
    {
        nuint size;
        if (api.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1)
        {
            return "";
        }

        var log = new byte[size];
        fixed (byte* p = log)
        {
            return api.nvrtcGetProgramLog(prog, p) == 0 ? Encoding.UTF8.GetString(log, 0, (int)size - 1).Trim() : "";
        }
    }

    private static byte[] NullTerminated(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
