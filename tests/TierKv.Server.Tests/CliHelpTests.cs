using System.Text.RegularExpressions;

namespace TierKv.Server.Tests;

/// <summary>
/// The flags each command of the <c>tierkv</c> CLI accepts are an interface (scripts, checks and docs use them): the
/// help of every command lists exactly the flags it listed when the commands' settings were last reorganised. The
/// order may change (shared settings come first); a flag may not appear, vanish or be renamed by accident.
/// </summary>
public sealed partial class CliHelpTests
{
    public static TheoryData<string, string> Commands => new()
    {
        { "demo", "--json --seed --record-trace --engine --model --users --turns --system-tokens --document-tokens --message-tokens --reply-tokens --data --fresh --dram-mib --ssd-mib --threads" },
        { "demo-synthetic", "--json --seed --record-trace --users --turns --system-tokens --model --dram-mib" },
        { "bench dram", "--json --model --reps --chunks --lookups --policy" },
        { "bench remote", "--json --model --reps --endpoints --chunks --concurrency --lookups --bulk-connections" },
        { "bench ssd", "--json --model --dir --chunks --reps --qd --random-reads --reads-under-writes --submission --writes-during-reads" },
        { "bench server", "--json --concurrency --value-bytes --ops --reps --lookup-keys --lookups --workload --redis-server" },
        { "bench gpu", "--json --model --reps --tokens --block-size --device" },
        { "bench matmul", "--json --rows --reps" },
        { "keys", "--json --model --vectors --tokens-per-chunk --salt --tokens" },
        { "probe", "--json --model --prefill-ms-per-token --dir --remote --quick" },
        { "serve", "--config --bind --port --metrics-port --dram --slot-bytes --model --data --ssd --remote --max-clients --tls-cert --tls-key --record-trace --log-format" },
        { "top", "--json --host --port --token --user --interval --frames --once" },
        { "analyze", "--json --model --capacities --policies --sweep --report" },
        { "replay", "--json --model --policy --dram-blocks --ssd-blocks --ssd-dir --write-back-overflow --chunk-bytes --speed --no-live-curve --curve-inline --curve-policies --curve-policy-rate --estimator-reps --record-trace" },
        { "generate", "--json --model --prompt --tokenizer --max-tokens --temperature --top-k --top-p --seed --data --dram-mib --ssd-mib --no-cache" },
        { "chat", "--model --data --system --max-tokens --context" },
        { "make-model", "--out --shape --f32 --seed" },
    };

    [SkippableTheory]
    [MemberData(nameof(Commands))]
    public async Task Help_lists_the_same_flags(string command, string flags)
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);

        var (code, stdout, stderr) = await CliProcess.RunAsync(cli, [.. command.Split(' '), "--help"], timeoutSeconds: 30);

        Assert.True(code == 0, $"tierkv {command} --help exited with {code}: {stderr}");
        var listed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in stdout.Split('\n'))
        {
            // An option row starts at the table's first column ("    -h, --help", "        --json"); a wrapped
            // description that mentions a flag is indented further.
            var m = OptionRow().Match(line);
            if (m.Success && m.Groups[1].Value != "--help")
            {
                listed.Add(m.Groups[1].Value);
            }
        }

        Assert.Equal(new SortedSet<string>(flags.Split(' '), StringComparer.Ordinal), listed);
    }

    [GeneratedRegex(@"^ {4}(?:-\w, | {4})(--[a-z0-9-]+)")]
    private static partial Regex OptionRow();
}
