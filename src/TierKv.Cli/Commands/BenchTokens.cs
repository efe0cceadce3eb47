namespace TierKv.Cli.Commands;

/// <summary>
/// The token sequences the bench commands hash into chunk keys: distinct chunks to move, and the 512-chunk prefix
/// whose lookup they time. The same sequences in every bench, so their figures compare.
/// </summary>
internal static class BenchTokens
{
    /// <summary>Chunks of the prefix whose lookup is timed: 131,072 tokens at 256 per chunk.</summary>
    public const int LookupChunks = 512;

    /// <summary>The layout of lookups: the chunk size does not enter a lookup, so small chunks keep the pool small.</summary>
    public static KvLayout LookupLayout { get; } = new("bench/lookup", 1, 1, 8, KvElementType.Float16);

    /// <summary>The tokens of the lookup prefix, <see cref="LookupChunks"/> chunks of <see cref="LookupLayout"/>.</summary>
    public static int[] LookupPrefix()
    {
        var tokens = new int[LookupChunks * LookupLayout.TokensPerChunk];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (int)((i * 2654435761u) % 128256);
        }

        return tokens;
    }

    /// <summary><paramref name="count"/> tokens whose chunks all differ; another <paramref name="offset"/> gives other chunks.</summary>
    public static int[] Distinct(int count, int offset = 13)
    {
        var tokens = new int[count];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (i * 7919) + offset;
        }

        return tokens;
    }
}
