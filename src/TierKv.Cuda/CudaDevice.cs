using System.Runtime.InteropServices;
using System.Text;
using TierKv.Cuda.Interop;
using TierKv.Cuda.Kernels;

namespace TierKv.Cuda;

/// <summary>
/// One GPU with its primary context and TierKV's kernels compiled for it. Open it once per process; every wrapper
/// binds the context to the calling thread before it calls the driver, so any thread may use it.
/// </summary>
public sealed unsafe class CudaDevice : IDisposable
{
    private const int AttrComputeCapabilityMajor = 75;
    private const int AttrComputeCapabilityMinor = 76;
    private const int AttrMultiprocessorCount = 16;
    private const int AttrUnifiedAddressing = 41;
    private const int AttrCanMapHostMemory = 19;

    [ThreadStatic]
    private static nint _boundContext;

    private readonly nint _context;
    private readonly nint _module;
    private int _disposed;

    private CudaDevice(int ordinal)
    {
        var api = CudaDriver.Api;
        int count;
        CudaDriver.Check(api.cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (count == 0)
        {
            throw new GpuUnavailableException("The CUDA driver is present but sees no GPU.");
        }

        if (ordinal < 0 || ordinal >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"The GPU ordinal must be in [0, {count}).");
        }

        int dev;
        CudaDriver.Check(api.cuDeviceGet(&dev, ordinal), "cuDeviceGet");
        Ordinal = dev;
        var name = stackalloc byte[256];
        CudaDriver.Check(api.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        Name = Marshal.PtrToStringUTF8((nint)name) ?? "";
        ComputeCapabilityMajor = Attribute(AttrComputeCapabilityMajor);
        ComputeCapabilityMinor = Attribute(AttrComputeCapabilityMinor);
        Multiprocessors = Attribute(AttrMultiprocessorCount);
        if (Attribute(AttrUnifiedAddressing) == 0 || Attribute(AttrCanMapHostMemory) == 0)
        {
            throw new GpuUnavailableException($"GPU {Name} lacks unified addressing or mapped host memory, which TierKV's GPU path needs.");
        }

        nuint total;
        CudaDriver.Check(api.cuDeviceTotalMem_v2(&total, dev), "cuDeviceTotalMem_v2");
        TotalMemoryBytes = (long)total;
        int driver;
        CudaDriver.Check(api.cuDriverGetVersion(&driver), "cuDriverGetVersion");
        DriverVersion = $"{driver / 1000}.{driver % 1000 / 10}";
        nint ctx;
        CudaDriver.Check(api.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
        _context = ctx;
        Bind();

        Kernels = KernelCompiler.Compile(KernelCompiler.ReadSource(KernelCompiler.KvTransferSource), KernelCompiler.KvTransferSource, ComputeCapabilityMajor, ComputeCapabilityMinor);
        var (nvMajor, nvMinor) = KernelCompiler.NvrtcVersion();
        NvrtcVersion = $"{nvMajor}.{nvMinor}";
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        nint module;
        fixed (byte* image = Kernels.Image)
        {
            CudaDriver.Check(api.cuModuleLoadData(&module, image), "cuModuleLoadData");
        }

        _module = module;
        ModuleLoadMilliseconds = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        GatherFunction = Function("tierkv_gather");
        ScatterFunction = Function("tierkv_scatter");
    }

    /// <summary>Device ordinal.</summary>
    public int Ordinal { get; }

    /// <summary>Device name, e.g. <c>NVIDIA H100 80GB HBM3</c>.</summary>
    public string Name { get; }

    /// <summary>Compute capability major version (9 on Hopper).</summary>
    public int ComputeCapabilityMajor { get; }

    /// <summary>Compute capability minor version.</summary>
    public int ComputeCapabilityMinor { get; }

    /// <summary>Streaming multiprocessors.</summary>
    public int Multiprocessors { get; }

    /// <summary>Bytes of device memory.</summary>
    public long TotalMemoryBytes { get; }

    /// <summary>Driver's CUDA version, e.g. <c>13.0</c>.</summary>
    public string DriverVersion { get; }

    /// <summary>NVRTC version that compiled the kernels.</summary>
    public string NvrtcVersion { get; }

    /// <summary>The compiled gather/scatter kernels (architecture, compile time).</summary>
    public CompiledKernels Kernels { get; }

    /// <summary>Time <c>cuModuleLoadData</c> took for the kernels.</summary>
    public double ModuleLoadMilliseconds { get; }

    internal nint GatherFunction { get; }

    internal nint ScatterFunction { get; }

    /// <summary>
    /// Says whether a GPU can be used here without throwing: loads the driver (only the driver, not NVRTC) and counts
    /// devices. The reason names what is missing.
    /// </summary>
    public static GpuAvailability Probe()
    {
        try
        {
            var api = CudaDriver.Api;
            int count;
            int status = api.cuDeviceGetCount(&count);
            if (status != CudaDriver.Success)
            {
                return new GpuAvailability(false, $"The CUDA driver could not count GPUs ({CudaErrorNames.Get(status)}).", 0);
            }

            return count == 0 ? new GpuAvailability(false, "The CUDA driver is present but sees no GPU.", 0) : new GpuAvailability(true, "", count);
        }
        catch (GpuUnavailableException ex)
        {
            return new GpuAvailability(false, ex.Message, 0);
        }
    }

    /// <summary>Opens GPU <paramref name="ordinal"/> and compiles the kernels; throws <see cref="GpuUnavailableException"/> naming what is missing.</summary>
    public static CudaDevice Open(int ordinal = 0) => new(ordinal);

    /// <summary>Free and total device memory in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        Bind();
        nuint free, total;
        CudaDriver.Check(CudaDriver.Api.cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    /// <summary>Waits for all work on the device.</summary>
    public void Synchronize()
    {
        Bind();
        CudaDriver.Check(CudaDriver.Api.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>Makes this device's context current on the calling thread (cheap when it already is).</summary>
    public void Bind()
    {
        if (_boundContext != _context)
        {
            CudaDriver.Check(CudaDriver.Api.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
            _boundContext = _context;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Bind();
        _ = CudaDriver.Api.cuModuleUnload(_module);
        _ = CudaDriver.Api.cuDevicePrimaryCtxRelease_v2(Ordinal);
        _boundContext = 0;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (sm_{ComputeCapabilityMajor}{ComputeCapabilityMinor}, {Multiprocessors} SMs, {TotalMemoryBytes >> 30} GiB, driver CUDA {DriverVersion}, NVRTC {NvrtcVersion})";

    private int Attribute(int attribute)
    {
        int value;
        CudaDriver.Check(CudaDriver.Api.cuDeviceGetAttribute(&value, attribute, Ordinal), "cuDeviceGetAttribute");
        return value;
    }

    private nint Function(string name)
    {
        byte[] bytes = new byte[Encoding.ASCII.GetByteCount(name) + 1];
        Encoding.ASCII.GetBytes(name, bytes);
        nint f;
        fixed (byte* n = bytes)
        {
            CudaDriver.Check(CudaDriver.Api.cuModuleGetFunction(&f, _module, n), "cuModuleGetFunction(" + name + ")");
        }

        return f;
    }
}
