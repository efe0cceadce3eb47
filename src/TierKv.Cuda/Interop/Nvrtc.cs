using System.Runtime.InteropServices;

namespace TierKv.Cuda.Interop;

/// <summary>NVRTC (<c>libnvrtc</c>, from the CUDA toolkit) through function pointers resolved on first use.</summary>
internal static unsafe class Nvrtc
{
    private static readonly NativeApi<Functions> Library = new(Load);

    /// <summary>The loaded NVRTC; throws <see cref="GpuUnavailableException"/> naming the places tried when absent.</summary>
    public static Functions Api => Library.Value;

    /// <summary>Where NVRTC was loaded from (for logs).</summary>
    public static string LoadedFrom { get; private set; } = "";

    private static Functions Load()
    {
        nint lib = NativeLibraryProbe.TryLoadNvrtc(out string tried);
        if (lib == 0)
        {
            throw new GpuUnavailableException($"No CUDA NVRTC: TierKV compiles its GPU kernels at start-up and needs libnvrtc from the CUDA toolkit (tried {tried}). Set {NativeLibraryProbe.NvrtcPathVariable} to its path.");
        }

        var api = NativeApi<Functions>.Bind(lib, l => new Functions(l), $"The CUDA NVRTC library at {tried} is unusable");
        LoadedFrom = tried;
        return api;
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless the status is success.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
        {
            var api = Library.IfLoaded;
            byte* p = api is null ? null : api.nvrtcGetErrorString(status);
            string name = p == null ? "NVRTC_ERROR_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture) : Marshal.PtrToStringUTF8((nint)p) ?? "";
            throw new CudaException(call, status, name, "NVRTC call failed");
        }
    }

    /// <summary>The NVRTC entry points TierKV uses.</summary>
    internal sealed class Functions
    {
#pragma warning disable SA1310, IDE1006 // Field names mirror the C API.
        public readonly delegate* unmanaged<int*, int*, int> nvrtcVersion;
        public readonly delegate* unmanaged<int*, int> nvrtcGetNumSupportedArchs;
        public readonly delegate* unmanaged<int*, int> nvrtcGetSupportedArchs;
        public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
        public readonly delegate* unmanaged<nint, int, byte**, int> nvrtcCompileProgram;
        public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetProgramLogSize;
        public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetProgramLog;
        public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetCUBINSize;
        public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetCUBIN;
        public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetPTXSize;
        public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetPTX;
        public readonly delegate* unmanaged<nint*, int> nvrtcDestroyProgram;
        public readonly delegate* unmanaged<int, byte*> nvrtcGetErrorString;
#pragma warning restore SA1310, IDE1006

        public Functions(nint lib)
        {
            nvrtcVersion = (delegate* unmanaged<int*, int*, int>)Export(lib, "nvrtcVersion");
            nvrtcGetNumSupportedArchs = (delegate* unmanaged<int*, int>)Export(lib, "nvrtcGetNumSupportedArchs");
            nvrtcGetSupportedArchs = (delegate* unmanaged<int*, int>)Export(lib, "nvrtcGetSupportedArchs");
            nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)Export(lib, "nvrtcCreateProgram");
            nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)Export(lib, "nvrtcCompileProgram");
            nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)Export(lib, "nvrtcGetProgramLogSize");
            nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)Export(lib, "nvrtcGetProgramLog");
            nvrtcGetCUBINSize = (delegate* unmanaged<nint, nuint*, int>)Export(lib, "nvrtcGetCUBINSize");
            nvrtcGetCUBIN = (delegate* unmanaged<nint, byte*, int>)Export(lib, "nvrtcGetCUBIN");
            nvrtcGetPTXSize = (delegate* unmanaged<nint, nuint*, int>)Export(lib, "nvrtcGetPTXSize");
            nvrtcGetPTX = (delegate* unmanaged<nint, byte*, int>)Export(lib, "nvrtcGetPTX");
            nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)Export(lib, "nvrtcDestroyProgram");
            nvrtcGetErrorString = (delegate* unmanaged<int, byte*>)Export(lib, "nvrtcGetErrorString");
        }

        private static nint Export(nint lib, string name) =>
            NativeLibrary.TryGetExport(lib, name, out nint p) ? p : throw new EntryPointNotFoundException($"it exports no {name}.");
    }
}
