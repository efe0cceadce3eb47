using System.Runtime.InteropServices;

namespace TierKv.Cuda.Interop;

/// <summary>The driver's <c>CUDA_MEMCPY2D</c>: a strided copy of <see cref="Height"/> rows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CudaMemcpy2D
{
    public const uint MemoryTypeHost = 1;
    public const uint MemoryTypeDevice = 2;

    public nuint SrcXInBytes;
    public nuint SrcY;
    public uint SrcMemoryType;
    public nint SrcHost;
    public ulong SrcDevice;
    public nint SrcArray;
    public nuint SrcPitch;
    public nuint DstXInBytes;
    public nuint DstY;
    public uint DstMemoryType;
    public nint DstHost;
    public ulong DstDevice;
    public nint DstArray;
    public nuint DstPitch;
    public nuint WidthInBytes;
    public nuint Height;
}
