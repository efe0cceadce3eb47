using TierKv.Cuda.Interop;
using TierKv.Cuda.Kernels;
using TierKv.Cuda.Memory;
using TierKv.Memory;

namespace TierKv.Cuda.Tests;

public sealed class CudaLoadingTests
{
    [SkippableFact]
    public void Without_a_driver_the_probe_names_what_is_missing()
    {
        var probe = CudaDevice.Probe();
        Skip.If(probe.IsAvailable, "This machine has a GPU.");
        Assert.Equal(0, probe.DeviceCount);
        Assert.Contains("CUDA", probe.Reason, StringComparison.Ordinal);
        Assert.Contains("libcuda", probe.Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Without_a_driver_opening_a_device_throws_gpu_unavailable()
    {
        Skip.If(CudaDevice.Probe().IsAvailable, "This machine has a GPU.");
        var ex = Assert.Throws<GpuUnavailableException>(() => CudaDevice.Open());
        Assert.Contains("GPU", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<InvalidOperationException>(ex);
    }

    [Fact]
    public void A_failed_call_becomes_an_exception_naming_the_call_and_the_error()
    {
        var ex = Assert.Throws<CudaException>(() => CudaDriver.Check(2, "cuMemAlloc_v2"));
        Assert.Equal("cuMemAlloc_v2", ex.Call);
        Assert.Equal(2, ex.Status);
        Assert.Contains("cuMemAlloc_v2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("CUDA_ERROR_OUT_OF_MEMORY", ex.Message, StringComparison.Ordinal);
        CudaDriver.Check(0, "cuInit");
    }

    [Fact]
    public void Without_a_device_the_dram_tier_keeps_plain_native_memory()
    {
        Assert.Same(NativeHostMemoryAllocator.Instance, CudaPinnedHostMemoryAllocator.ForDevice(null));
    }

    [Fact]
    public void Kernel_source_is_embedded_with_both_kernels()
    {
        string source = KernelCompiler.ReadSource(KernelCompiler.KvTransferSource);
        Assert.Contains("tierkv_gather", source, StringComparison.Ordinal);
        Assert.Contains("tierkv_scatter", source, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => KernelCompiler.ReadSource("missing.cu"));
    }

    [SkippableFact]
    public void Nvrtc_compiles_the_kernels_for_hopper_when_present()
    {
        // NVRTC needs no GPU: this runs wherever the toolkit (or TIERKV_NVRTC) is found.
        (int Major, int Minor) version;
        try
        {
            version = KernelCompiler.NvrtcVersion();
        }
        catch (GpuUnavailableException ex)
        {
            Skip.If(true, "No NVRTC: " + ex.Message);
            return;
        }

        var k = KernelCompiler.Compile(KernelCompiler.ReadSource(KernelCompiler.KvTransferSource), "kv_transfer.cu", 9, 0);
        Assert.True(k.Image.Length > 1000, $"NVRTC {version.Major}.{version.Minor} produced {k.Image.Length} bytes");
        Assert.EndsWith("90", k.ArchOption, StringComparison.Ordinal);
    }
}
