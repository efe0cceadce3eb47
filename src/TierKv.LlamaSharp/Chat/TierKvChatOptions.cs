namespace TierKv.LlamaSharp.Chat;

/// <summary>Settings of <see cref="TierKvChatClient"/>.</summary>
public sealed record TierKvChatOptions
{
    /// <summary>Data folder of the SSD tier (KV survives restarts there); null: DRAM only.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Tokens of llama.cpp's context (prompt + reply).</summary>
    public int ContextSize { get; init; } = 8192;

    /// <summary>Threads llama.cpp uses (default: all cores).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>DRAM tier capacity in MiB.</summary>
    public int DramMiB { get; init; } = 256;

    /// <summary>SSD tier capacity in MiB (with <see cref="DataDirectory"/>).</summary>
    public int SsdMiB { get; init; } = 2048;

    /// <summary>Reply length when a request does not set <c>MaxOutputTokens</c>.</summary>
    public int MaxOutputTokens { get; init; } = 256;

    /// <summary>Where warnings go (standard error when null).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (ContextSize < 256 || Threads < 1 || DramMiB < 1 || SsdMiB < 0 || MaxOutputTokens < 1)
        {
            throw new ArgumentException("TierKvChatOptions: ContextSize >= 256, Threads >= 1, DramMiB >= 1, SsdMiB >= 0 and MaxOutputTokens >= 1 are required.");
        }
    }
}
