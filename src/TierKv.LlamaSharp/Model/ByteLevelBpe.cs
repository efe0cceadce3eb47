using System.Text;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// A byte-level BPE vocabulary in GPT-2's convention (what llama.cpp's <c>gpt2</c> tokenizer reads): every byte is a
/// token, written as the printable character GPT-2's byte-to-unicode table assigns it (a space is <c>Ġ</c>), and merges
/// are learnt from a small English corpus, most frequent pair first.
/// </summary>
public sealed class ByteLevelBpe
{
    private ByteLevelBpe(string[] tokens, string[] merges)
    {
        Tokens = tokens;
        Merges = merges;
    }

    /// <summary>Token texts: the 256 byte tokens in byte order, then one token per merge.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Merges as <c>"left right"</c>, in rank order.</summary>
    public IReadOnlyList<string> Merges { get; }

    /// <summary>GPT-2's byte-to-unicode table: the printable character that stands for each byte.</summary>
    public static string[] ByteToUnicode()
    {
        var map = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= 33 and <= 126) or (>= 161 and <= 172) or (>= 174 and <= 255);
            map[b] = char.ConvertFromUtf32(printable ? b : next++);
        }

        return map;
    }

    /// <summary>Learns <paramref name="mergeCount"/> merges from the words of <paramref name="corpus"/> (deterministic: ties go to the ordinally smaller pair).</summary>
    public static ByteLevelBpe Train(string corpus, int mergeCount)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var b2u = ByteToUnicode();
        // Words as GPT-2 pre-tokenizes them: a leading space belongs to the word.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string w in corpus.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string word = " " + w;
            counts[word] = counts.GetValueOrDefault(word) + 1;
        }

        var words = new List<(List<string> Symbols, int Count)>();
        foreach (var (word, count) in counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var symbols = new List<string>();
            foreach (byte b in Encoding.UTF8.GetBytes(word))
            {
                symbols.Add(b2u[b]);
            }

            words.Add((symbols, count));
        }

        var tokens = new List<string>(b2u);
        var merges = new List<string>();
        var pairs = new Dictionary<(string, string), int>();
        for (int m = 0; m < mergeCount; m++)
        {
            pairs.Clear();
            foreach (var (symbols, count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairs[pair] = pairs.GetValueOrDefault(pair) + count;
                }
            }

            if (pairs.Count == 0)
            {
                break;
            }

            var best = pairs.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal)
                .ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            string merged = best.Item1 + best.Item2;
            merges.Add(best.Item1 + " " + best.Item2);
            tokens.Add(merged);
            foreach (var (symbols, _) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        return new ByteLevelBpe([.. tokens], [.. merges]);
    }
}
