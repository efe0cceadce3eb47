using System.Text;
using TierKv.Engine.Text;

namespace TierKv.Cli.Commands;

/// <summary>
/// Deterministic chat text for the engine demo: a shared system prompt, a document each user pastes in the first
/// turn, short follow-up messages. The words are plain English so the tokenizer sees realistic text; the model is
/// synthetic, so its replies are not.
/// </summary>
internal sealed class SyntheticChat(TextTokenizer tokenizer, int seed)
{
    private static readonly string[] Words =
    [
        "the", "cache", "model", "request", "token", "prefix", "layer", "memory", "server", "user", "history", "prompt",
        "answer", "question", "document", "section", "policy", "system", "latency", "throughput", "tier", "chunk", "disk",
        "network", "value", "key", "attention", "compute", "reuse", "turn", "agent", "tool", "result", "summary", "report",
        "please", "explain", "why", "how", "when", "which", "should", "could", "would", "must", "never", "always", "first",
        "then", "after", "before", "because", "while", "every", "each", "some", "many", "few", "large", "small", "fast",
        "slow", "new", "old", "good", "better", "best", "simple", "careful", "exact", "same", "different", "other", "this",
        "that", "these", "those", "with", "without", "from", "into", "over", "under", "between", "across", "through", "and",
        "or", "but", "not", "is", "are", "was", "were", "be", "been", "has", "have", "had", "do", "does", "did", "can",
        "will", "make", "keep", "move", "load", "store", "read", "write", "evict", "measure", "plan", "serve", "build",
    ];

    private readonly Random _random = new(seed);

    /// <summary>About <paramref name="tokens"/> tokens of text (exact after <see cref="Tokens"/>).</summary>
    public string Text(int tokens)
    {
        var sb = new StringBuilder();
        int words = 0;
        while (words < tokens)
        {
            int len = _random.Next(6, 16);
            for (int i = 0; i < len; i++)
            {
                string w = Words[_random.Next(Words.Length)];
                sb.Append(i == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w);
                sb.Append(i == len - 1 ? ". " : " ");
            }

            words += len;
        }

        return sb.ToString();
    }

    /// <summary>Exactly <paramref name="tokens"/> tokens of a message with a role header.</summary>
    public int[] Tokens(string role, int tokens)
    {
        var header = tokenizer.Encode($"\n{role}: ");
        var body = tokenizer.Encode(Text(tokens));
        int take = System.Math.Max(0, System.Math.Min(body.Length, tokens - header.Length));
        return [.. header, .. body.AsSpan(0, take)];
    }
}
