using System.Runtime.InteropServices;

namespace TierKv.Cuda.Interop;

/// <summary>
/// The CUDA driver API (<c>libcuda.so.1</c>) through function pointers resolved on first use. Function pointers keep
/// the calls free of marshalling and work the same under NativeAOT; nothing is loaded until <see cref="Api"/> is read.
/// </summary>
internal static unsafe class CudaDriver
{
    public const int Success = 0;
    public const int NotReady = 600;

    private static readonly NativeApi<Functions> Driver = new(Load);

    /// <summary>The loaded driver, initialised (<c>cuInit</c>); throws <see cref="GpuUnavailableException"/> when absent.</summary>
    public static Functions Api => Driver.Value;

    /// <summary>True once the driver was loaded; lets error formatting avoid loading it.</summary>
    public static bool IsLoaded => Driver.IfLoaded is not null;

    private static Functions Load()
    {
        nint lib = NativeLibraryProbe.TryLoadDriver(out string tried);
        if (lib == 0)
        {
            throw new GpuUnavailableException($"No CUDA GPU driver: the NVIDIA driver library could not be loaded (tried {tried}). Set {NativeLibraryProbe.DriverPathVariable} to its path if it is installed elsewhere.");
        }

        var api = NativeApi<Functions>.Bind(lib, l => new Functions(l), "The CUDA driver library is too old for TierKV's GPU path");
        int status = api.cuInit(0);
        if (status != Success)
        {
            throw new GpuUnavailableException($"The CUDA driver did not initialise (cuInit: {ErrorName(api, status)} ({status})): no usable GPU on this machine.");
        }

        return api;
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="status"/> is success.</summary>
    public static void Check(int status, string call)
    {
        if (status != Success)
        {
            Throw(status, call);
        }
    }

    private static void Throw(int status, string call)
    {
        var api = Driver.IfLoaded;
        string name = api is null ? CudaErrorNames.Get(status) : ErrorName(api, status);
        string description = api is null ? "" : ErrorString(api, status);
        throw new CudaException(call, status, name, description);
    }

    private static string ErrorName(Functions api, int status)
    {
        byte* p = null;
        return api.cuGetErrorName(status, &p) == Success && p != null ? Marshal.PtrToStringUTF8((nint)p) ?? CudaErrorNames.Get(status) : CudaErrorNames.Get(status);
    }

    private static string ErrorString(Functions api, int status)
    {
        byte* p = null;
        return api.cuGetErrorString(status, &p) == Success && p != null ? Marshal.PtrToStringUTF8((nint)p) ?? "" : "";
    }

    /// <summary>The driver entry points TierKV uses.</summary>
    internal sealed class Functions
    {
#pragma warning disable SA1310, IDE1006 // Field names mirror the C API.
        public readonly delegate* unmanaged<uint, int> cuInit;
        public readonly delegate* unmanaged<int*, int> cuDriverGetVersion;
        public readonly delegate* unmanaged<int*, int> cuDeviceGetCount;
        public readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
        public readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
        public readonly delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
        public readonly delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem_v2;
        public readonly delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
        public readonly delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease_v2;
        public readonly delegate* unmanaged<nint, int> cuCtxSetCurrent;
        public readonly delegate* unmanaged<int> cuCtxSynchronize;
        public readonly delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo_v2;
        public readonly delegate* unmanaged<ulong*, nuint, int> cuMemAlloc_v2;
        public readonly delegate* unmanaged<ulong, int> cuMemFree_v2;
        public readonly delegate* unmanaged<void**, nuint, uint, int> cuMemHostAlloc;
        public readonly delegate* unmanaged<void*, int> cuMemFreeHost;
        public readonly delegate* unmanaged<void*, nuint, uint, int> cuMemHostRegister_v2;
        public readonly delegate* unmanaged<void*, int> cuMemHostUnregister;
        public readonly delegate* unmanaged<ulong*, void*, uint, int> cuMemHostGetDevicePointer_v2;
        public readonly delegate* unmanaged<uint*, void*, int> cuMemHostGetFlags;
        public readonly delegate* unmanaged<void*, int, ulong, int> cuPointerGetAttribute;
        public readonly delegate* unmanaged<ulong, void*, nuint, nint, int> cuMemcpyHtoDAsync_v2;
        public readonly delegate* unmanaged<void*, ulong, nuint, nint, int> cuMemcpyDtoHAsync_v2;
        public readonly delegate* unmanaged<ulong, ulong, nuint, nint, int> cuMemcpyDtoDAsync_v2;
        public readonly delegate* unmanaged<CudaMemcpy2D*, nint, int> cuMemcpy2DAsync_v2;
        public readonly delegate* unmanaged<ulong, byte, nuint, nint, int> cuMemsetD8Async;
        public readonly delegate* unmanaged<nint*, uint, int> cuStreamCreate;
        public readonly delegate* unmanaged<nint, int> cuStreamDestroy_v2;
        public readonly delegate* unmanaged<nint, int> cuStreamSynchronize;
        public readonly delegate* unmanaged<nint, nint, uint, int> cuStreamWaitEvent;
        public readonly delegate* unmanaged<nint*, uint, int> cuEventCreate;
        public readonly delegate* unmanaged<nint, int> cuEventDestroy_v2;
        public readonly delegate* unmanaged<nint, nint, int> cuEventRecord;
        public readonly delegate* unmanaged<nint, int> cuEventSynchronize;
        public readonly delegate* unmanaged<nint, int> cuEventQuery;
        public readonly delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
        public readonly delegate* unmanaged<nint*, void*, int> cuModuleLoadData;
        public readonly delegate* unmanaged<nint, int> cuModuleUnload;
        public readonly delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
        public readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
        public readonly delegate* unmanaged<int, byte**, int> cuGetErrorName;
        public readonly delegate* unmanaged<int, byte**, int> cuGetErrorString;
#pragma warning restore SA1310, IDE1006

        public Functions(nint lib)
        {
            cuInit = (delegate* unmanaged<uint, int>)Export(lib, "cuInit");
            cuDriverGetVersion = (delegate* unmanaged<int*, int>)Export(lib, "cuDriverGetVersion");
            cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(lib, "cuDeviceGetCount");
            cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export(lib, "cuDeviceGet");
            cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export(lib, "cuDeviceGetName");
            cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(lib, "cuDeviceGetAttribute");
            cuDeviceTotalMem_v2 = (delegate* unmanaged<nuint*, int, int>)Export(lib, "cuDeviceTotalMem_v2");
            cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export(lib, "cuDevicePrimaryCtxRetain");
            cuDevicePrimaryCtxRelease_v2 = (delegate* unmanaged<int, int>)Export(lib, "cuDevicePrimaryCtxRelease_v2");
            cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Export(lib, "cuCtxSetCurrent");
            cuCtxSynchronize = (delegate* unmanaged<int>)Export(lib, "cuCtxSynchronize");
            cuMemGetInfo_v2 = (delegate* unmanaged<nuint*, nuint*, int>)Export(lib, "cuMemGetInfo_v2");
            cuMemAlloc_v2 = (delegate* unmanaged<ulong*, nuint, int>)Export(lib, "cuMemAlloc_v2");
            cuMemFree_v2 = (delegate* unmanaged<ulong, int>)Export(lib, "cuMemFree_v2");
            cuMemHostAlloc = (delegate* unmanaged<void**, nuint, uint, int>)Export(lib, "cuMemHostAlloc");
            cuMemFreeHost = (delegate* unmanaged<void*, int>)Export(lib, "cuMemFreeHost");
            cuMemHostRegister_v2 = (delegate* unmanaged<void*, nuint, uint, int>)Export(lib, "cuMemHostRegister_v2");
            cuMemHostUnregister = (delegate* unmanaged<void*, int>)Export(lib, "cuMemHostUnregister");
            cuMemHostGetDevicePointer_v2 = (delegate* unmanaged<ulong*, void*, uint, int>)Export(lib, "cuMemHostGetDevicePointer_v2");
            cuMemHostGetFlags = (delegate* unmanaged<uint*, void*, int>)Export(lib, "cuMemHostGetFlags");
            cuPointerGetAttribute = (delegate* unmanaged<void*, int, ulong, int>)Export(lib, "cuPointerGetAttribute");
            cuMemcpyHtoDAsync_v2 = (delegate* unmanaged<ulong, void*, nuint, nint, int>)Export(lib, "cuMemcpyHtoDAsync_v2");
            cuMemcpyDtoHAsync_v2 = (delegate* unmanaged<void*, ulong, nuint, nint, int>)Export(lib, "cuMemcpyDtoHAsync_v2");
            cuMemcpyDtoDAsync_v2 = (delegate* unmanaged<ulong, ulong, nuint, nint, int>)Export(lib, "cuMemcpyDtoDAsync_v2");
            cuMemcpy2DAsync_v2 = (delegate* unmanaged<CudaMemcpy2D*, nint, int>)Export(lib, "cuMemcpy2DAsync_v2");
            cuMemsetD8Async = (delegate* unmanaged<ulong, byte, nuint, nint, int>)Export(lib, "cuMemsetD8Async");
            cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)Export(lib, "cuStreamCreate");
            cuStreamDestroy_v2 = (delegate* unmanaged<nint, int>)Export(lib, "cuStreamDestroy_v2");
            cuStreamSynchronize = (delegate* unmanaged<nint, int>)Export(lib, "cuStreamSynchronize");
            cuStreamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)Export(lib, "cuStreamWaitEvent");
            cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Export(lib, "cuEventCreate");
            cuEventDestroy_v2 = (delegate* unmanaged<nint, int>)Export(lib, "cuEventDestroy_v2");
            cuEventRecord = (delegate* unmanaged<nint, nint, int>)Export(lib, "cuEventRecord");
            cuEventSynchronize = (delegate* unmanaged<nint, int>)Export(lib, "cuEventSynchronize");
            cuEventQuery = (delegate* unmanaged<nint, int>)Export(lib, "cuEventQuery");

            // CUDA 12.8 added a _v2; the original stays exported for older programs.
            cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)(NativeLibrary.TryGetExport(lib, "cuEventElapsedTime", out nint e) ? e : Export(lib, "cuEventElapsedTime_v2"));
            cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)Export(lib, "cuModuleLoadData");
            cuModuleUnload = (delegate* unmanaged<nint, int>)Export(lib, "cuModuleUnload");
            cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Export(lib, "cuModuleGetFunction");
            cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export(lib, "cuLaunchKernel");
            cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Export(lib, "cuGetErrorName");
            cuGetErrorString = (delegate* unmanaged<int, byte**, int>)Export(lib, "cuGetErrorString");
        }

        private static nint Export(nint lib, string name) =>
            NativeLibrary.TryGetExport(lib, name, out nint p) ? p : throw new EntryPointNotFoundException($"the driver library exports no {name}.");
    }
}
