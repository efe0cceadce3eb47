namespace TierKv.Cuda;

/// <summary>
/// A driver object that belongs to one device (a stream, an event, device memory, pinned host memory): the handle
/// the driver gave it, released on that device by the first <see cref="Dispose"/>; any use after that is an
/// <see cref="ObjectDisposedException"/>.
/// </summary>
public abstract class CudaResource : IDisposable
{
    private ulong _handle;

    /// <summary>Makes <paramref name="device"/> current, for the subclass to create its object on.</summary>
    private protected CudaResource(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        device.Bind();
    }

    /// <summary>The device the object belongs to.</summary>
    private protected CudaDevice Device { get; }

    /// <summary>The driver handle (or address); throws once disposed.</summary>
    private protected ulong RawHandle => _handle != 0 ? _handle : throw new ObjectDisposedException(GetType().Name);

    /// <inheritdoc />
    public void Dispose()
    {
        ulong handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            Device.Bind();
            Release(handle);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Takes ownership of the handle the driver just created.</summary>
    private protected void Own(ulong handle) => _handle = handle;

    /// <summary>Gives <paramref name="handle"/> back to the driver (the device is current); errors are ignored.</summary>
    private protected abstract void Release(ulong handle);
}
