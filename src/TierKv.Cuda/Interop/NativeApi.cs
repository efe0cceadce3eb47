namespace TierKv.Cuda.Interop;

/// <summary>
/// A native API (the driver, NVRTC) loaded on first use, once: the first caller runs the loader under a lock, later
/// callers read the loaded table without one. A load that fails is remembered, so every later use throws the same
/// <see cref="GpuUnavailableException"/> without probing the file system again.
/// </summary>
/// <typeparam name="T">The table of entry points.</typeparam>
internal sealed class NativeApi<T>(Func<T> load)
    where T : class
{
    private readonly Lock _lock = new();
    private T? _api;
    private string? _unavailable;

    /// <summary>The loaded API; loads it on first use, and throws <see cref="GpuUnavailableException"/> when it cannot be.</summary>
    public T Value => Volatile.Read(ref _api) ?? Load();

    /// <summary>The API when it was loaded already, else null (without trying to load it).</summary>
    public T? IfLoaded => Volatile.Read(ref _api);

    /// <summary>
    /// Binds the entry points of <paramref name="library"/>; an entry point the library lacks is a
    /// <see cref="GpuUnavailableException"/> whose message starts with <paramref name="unusable"/>.
    /// </summary>
    public static T Bind(nint library, Func<nint, T> bind, string unusable)
    {
        try
        {
            return bind(library);
        }
        catch (EntryPointNotFoundException ex)
        {
            throw new GpuUnavailableException($"{unusable}: {ex.Message}", ex);
        }
    }

    private T Load()
    {
        lock (_lock)
        {
            if (_api is not null)
            {
                return _api;
            }

            if (_unavailable is not null)
            {
                throw new GpuUnavailableException(_unavailable);
            }

            try
            {
                var api = load();
                Volatile.Write(ref _api, api);
                return api;
            }
            catch (GpuUnavailableException ex)
            {
                _unavailable = ex.Message;
                throw;
            }
        }
    }
}
