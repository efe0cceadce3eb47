namespace TierKv.Cuda;

/// <summary>A CUDA driver or NVRTC call returned an error; the message names the call and the error.</summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates the exception for <paramref name="call"/> returning <paramref name="status"/>.</summary>
    public CudaException(string call, int status, string errorName, string description)
        : base($"{call} failed: {errorName} ({status}): {description}")
    {
        Call = call;
        Status = status;
        ErrorName = errorName;
    }

    /// <summary>Creates the exception with a message of the caller's.</summary>
    public CudaException(string message)
        : base(message)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public CudaException(string message, Exception innerException)
        : base(message, innerException)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>The driver or NVRTC function that failed, e.g. <c>cuMemAlloc_v2</c>.</summary>
    public string Call { get; }

    /// <summary>The numeric status it returned.</summary>
    public int Status { get; }

    /// <summary>The status's name, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</summary>
    public string ErrorName { get; }
}
