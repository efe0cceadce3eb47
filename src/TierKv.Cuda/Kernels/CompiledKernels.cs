namespace TierKv.Cuda.Kernels;

/// <summary>The output of <see cref="KernelCompiler.Compile"/>.</summary>
/// <param name="Image">Machine code (cubin) or null-terminated PTX, for <c>cuModuleLoadData</c>.</param>
/// <param name="IsCubin">True for machine code of the device's own architecture; false for PTX the driver compiles.</param>
/// <param name="ArchOption">The NVRTC architecture option used, e.g. <c>--gpu-architecture=sm_90</c>.</param>
/// <param name="CompileMilliseconds">Wall time of the compilation.</param>
/// <param name="Log">NVRTC's log (warnings), empty when silent.</param>
public sealed record CompiledKernels(byte[] Image, bool IsCubin, string ArchOption, double CompileMilliseconds, string Log);
