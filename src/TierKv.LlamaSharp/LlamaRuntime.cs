using LLama.Native;

namespace TierKv.LlamaSharp;

/// <summary>
/// Process-wide setup of LLamaSharp's native library (llama.cpp from the <c>LLamaSharp.Backend.Cpu</c> package, the
/// best of its noavx/avx/avx2/avx512 builds for this CPU). llama.cpp's log goes to <see cref="Log"/>, warnings and
/// errors only. LLamaSharp accepts configuration only before its first native call, so <see cref="Configure"/> runs
/// once and does nothing if the application configured the library itself.
/// </summary>
public static class LlamaRuntime
{
    private static int _configured;

    /// <summary>Where llama.cpp's warnings and errors go (null: dropped).</summary>
    public static Action<string>? Log { get; set; }

    /// <summary>Configures the native library once per process.</summary>
    public static void Configure()
    {
        if (Interlocked.Exchange(ref _configured, 1) != 0)
        {
            return;
        }

        try
        {
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
                {
                    Log?.Invoke(message.TrimEnd());
                }
            });
        }
        catch (InvalidOperationException)
        {
            // The application loaded the library before us; its settings stand.
        }
    }
}
