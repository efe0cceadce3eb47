namespace TierKv.Server.Client;

// The async client's commands, each a message plus its reply processor (struct calls: no allocation, no closures).
public sealed partial class TierKvAsyncClient
{
    private readonly struct PingCall : IRespCall<bool>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Ping(writer);
            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<bool> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadSimpleAsync(cancellationToken);
    }

    private readonly record struct AuthCall(string Token, string? User) : IRespCall<bool>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Auth(writer, Token, User);
            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<bool> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadSimpleAsync(cancellationToken);
    }

    private readonly record struct SetCall(ReadOnlyMemory<byte> Name, ReadOnlyMemory<byte> Value) : IRespCall<bool>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Set(writer, Name.Span);
            return writer.SendLastAsync(Value, cancellationToken);
        }

        public ValueTask<bool> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadSimpleAsync(cancellationToken);
    }

    private readonly record struct PutCall(ChunkKey Key, ReadOnlyMemory<byte> Value, ChunkKey? Parent) : IRespCall<bool>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Put(writer, Key, Parent);
            return writer.SendLastAsync(Value, cancellationToken);
        }

        public ValueTask<bool> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadFlagAsync(last: true, cancellationToken);
    }

    /// <summary>KV.GET of <see cref="Key"/>, or GET of <see cref="Name"/> without one, into the caller's memory.</summary>
    private readonly record struct GetCall(ReadOnlyMemory<byte> Name, ChunkKey? Key, Memory<byte> Destination) : IRespCall<int>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            if (Key is { } key)
            {
                TierKvCommands.GetChunk(writer, key);
            }
            else
            {
                TierKvCommands.Get(writer, Name.Span);
            }

            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<int> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadBulkIntoAsync(Destination, cancellationToken);
    }

    /// <summary>KV.PIN or KV.UNPIN, answered with a count.</summary>
    private readonly record struct PinCall(ReadOnlyMemory<ChunkKey> Keys, TimeSpan? Ttl, bool Unpin) : IRespCall<int>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Pin(writer, Keys.Span, Ttl, Unpin);
            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<int> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadCountAsync(cancellationToken);
    }

    /// <summary>KV.LOOKUP KEYS (<see cref="Lookup"/>) or KV.DEL of keys, answered with a count.</summary>
    private readonly record struct KeysCall(ReadOnlyMemory<ChunkKey> Keys, bool Lookup) : IRespCall<int>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            if (Lookup)
            {
                TierKvCommands.Lookup(writer, Keys.Span);
            }
            else
            {
                TierKvCommands.Delete(writer, Keys.Span);
            }

            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<int> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadCountAsync(cancellationToken);
    }

    private readonly record struct LookupTokensCall(ReadOnlyMemory<int> Tokens) : IRespCall<int>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.LookupTokens(writer);
            return writer.SendTokensAsync(Tokens, cancellationToken);
        }

        public ValueTask<int> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadCountAsync(cancellationToken);
    }

    private readonly record struct ExistsCall(ReadOnlyMemory<ChunkKey> Keys, Memory<bool> Present) : IRespCall<bool>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Exists(writer, Keys.Span);
            return writer.FlushAsync(cancellationToken);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public async ValueTask<bool> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken)
        {
            int n = await reader.ReadFlagCountAsync(Keys.Length, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < n; i++)
            {
                bool held = await reader.ReadFlagAsync(last: i + 1 == n, cancellationToken).ConfigureAwait(false);
                Present.Span[i] = held;
            }

            return true;
        }
    }

    private readonly record struct AnyCall(IReadOnlyList<string> Args) : IRespCall<object?>
    {
        public ValueTask SendAsync(RespRequestWriter writer, CancellationToken cancellationToken)
        {
            TierKvCommands.Any(writer, Args);
            return writer.FlushAsync(cancellationToken);
        }

        public ValueTask<object?> ReadAsync(RespReplyReader reader, CancellationToken cancellationToken) => reader.ReadValueAsync(cancellationToken);
    }
}
