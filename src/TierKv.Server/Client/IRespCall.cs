namespace TierKv.Server.Client;

/// <summary>
/// One command of <see cref="TierKvAsyncClient"/> as StackExchange.Redis shapes one: the message (how it is written and
/// sent) and its reply processor (how the reply is read). The client runs every call through one guarded path.
/// </summary>
/// <typeparam name="TResult">What the reply yields.</typeparam>
internal interface IRespCall<TResult>
{
    /// <summary>Writes the command and sends it (a large last argument straight from the caller's memory).</summary>
    ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken);

    /// <summary>Reads the whole reply.</summary>
    ValueTask<TResult> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken);
}
