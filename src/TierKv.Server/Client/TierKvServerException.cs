namespace TierKv.Server.Client;

/// <summary>An error reply from the server (the message starts with its code: ERR, NOAUTH, WRONGPASS, ...).</summary>
public sealed class TierKvServerException : Exception
{
    /// <summary>Creates the exception from the server's error text.</summary>
    public TierKvServerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TierKvServerException()
    {
    }

    /// <summary>Creates the exception with an inner one.</summary>
    public TierKvServerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
