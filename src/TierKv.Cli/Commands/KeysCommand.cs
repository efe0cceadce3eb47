using System.Text;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv keys</c>: prints the chunk keys of a token sequence (or, with <c>--vectors</c>, the test vectors of
/// docs/hashing.md as JSON lines, which scripts/hashing_vectors.py checks from the spec alone).
/// </summary>
internal sealed class KeysCommand : Command<KeysCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--vectors")]
        [Description("Print the test vectors of docs/hashing.md as JSON lines.")]
        public bool Vectors { get; init; }

        [CommandOption("--tokens-per-chunk")]
        [Description("Tokens per chunk (default 256).")]
        [DefaultValue(KvLayout.DefaultTokensPerChunk)]
        public int TokensPerChunk { get; init; } = KvLayout.DefaultTokensPerChunk;

        [CommandOption("--salt")]
        [Description("Tenant salt (UTF-8 text).")]
        [DefaultValue("")]
        public string Salt { get; init; } = string.Empty;

        [CommandOption("--tokens")]
        [Description("Comma-separated token ids.")]
        public string? Tokens { get; init; }

        public override ValidationResult Validate() => SettingsRules.Check((!Vectors && Tokens is null, "Give --tokens 1,2,3,... or --vectors."));
    }

    /// <summary>The vectors of docs/hashing.md; scripts/hashing_vectors.py defines the same list.</summary>
    internal static IReadOnlyList<(string Name, KvLayout Layout, byte[] Salt, int[] Tokens)> TestVectors()
    {
        var l8 = new KvLayout("meta-llama/Meta-Llama-3-8B", 32, 8, 128, KvElementType.BFloat16);
        var l1 = new KvLayout("meta-llama/Llama-3.2-1B", 16, 8, 64, KvElementType.BFloat16);
        var tiny = new KvLayout("test/tiny", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4, tensorParallelRank: 1, tensorParallelSize: 2);
        int[] seq256 = [.. Enumerable.Range(0, 256)];
        return
        [
            ("empty salt, one chunk", l8, [], seq256),
            ("a salt, one chunk", l8, Encoding.UTF8.GetBytes("tenant-a"), seq256),
            ("second layout, one chunk", l1, [], seq256),
            ("several chunks", l8, [], [.. Enumerable.Range(0, 3 * 256).Select(i => ((i * 7919) + 13) % 128256)]),
            ("small chunks, tp rank 1 of 2, salt, partial tail", tiny, Encoding.UTF8.GetBytes("x"), [.. Enumerable.Range(0, 22).Select(i => i * 3)]),
            ("large token ids, no full chunk", l8, Encoding.UTF8.GetBytes("tenant-b"), [int.MaxValue, 0, 128255]),
            ("large token ids, two chunks", l8, [.. Enumerable.Range(0, 16).Select(i => (byte)i)], [.. Enumerable.Range(0, 512).Select(i => int.MaxValue - (i * 65537))]),
        ];
    }

    internal static JsonObject Describe(string name, KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens)
    {
        var keys = PrefixHasher.ComputeKeys(layout, salt, tokens);
        var arr = new JsonArray();
        foreach (var k in keys)
        {
            arr.Add(k.ToString());
        }

        return new JsonObject
        {
            ["name"] = name,
            ["fingerprint"] = layout.Fingerprint.ToString(),
            ["root"] = PrefixHasher.Root(layout, salt).ToString(),
            ["keys"] = arr,
        };
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Vectors)
        {
            foreach (var (name, layout, salt, tokens) in TestVectors())
            {
                Console.Out.WriteLine(Describe(name, layout, TenantSalt.FromBytes(salt), tokens).ToJsonString());
            }

            return 0;
        }

        var shape = settings.Shape();
        var l = shape.Layout;
        var layoutN = new KvLayout(l.ModelId, l.Layers, l.KvHeads, l.HeadDim, l.ElementType, settings.TokensPerChunk);
        var toks = ParseTokens(settings.Tokens!);
        var report = new CommandReport(Describe(shape.Name, layoutN, TenantSalt.FromString(settings.Salt), toks))
            .Line($"layout      {Markup.Escape(layoutN.ToString())}");
        report.Line($"fingerprint {report["fingerprint"]}").Line($"root        {report["root"]}");
        int i = 0;
        foreach (var k in report.Fields["keys"]!.AsArray())
        {
            report.Line($"chunk {i++,-5} {k}");
        }

        if (toks.Length % layoutN.TokensPerChunk != 0)
        {
            report.Line($"[grey]{toks.Length % layoutN.TokensPerChunk} trailing tokens form no full chunk and get no key.[/]");
        }

        return report.Write(settings.Json);
    }

    private static int[] ParseTokens(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var tokens = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], out tokens[i]) || tokens[i] < 0)
            {
                throw new ArgumentException($"--tokens: item {i + 1} ('{parts[i]}') is not a non-negative integer token id.");
            }
        }

        return tokens;
    }
}
