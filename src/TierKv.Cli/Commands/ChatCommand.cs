using Microsoft.Extensions.AI;
using TierKv.LlamaSharp.Chat;
using TierKv.LlamaSharp.Model;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv chat</c>: an interactive chat on llama.cpp whose KV lives in TierKV's DRAM and SSD tiers; the SSD tier in the
/// data folder keeps it across restarts, so a restarted chat resumes a long conversation without prefilling it again.
/// </summary>
internal sealed class ChatCommand : AsyncCommand<ChatCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <PATH>")]
        [Description("GGUF model file, or tiny/small for a generated one (tierkv make-model).")]
        [DefaultValue("small")]
        public string Model { get; init; } = "small";

        [CommandOption("--data <DIR>")]
        [Description("Data folder of the SSD tier (default: tierkv-chat under the temp directory).")]
        public string? Data { get; init; }

        [CommandOption("--system")]
        [Description("System prompt.")]
        [DefaultValue("You are a helpful assistant.")]
        public string System { get; init; } = "You are a helpful assistant.";

        [CommandOption("--max-tokens")]
        [Description("Longest reply in tokens.")]
        [DefaultValue(64)]
        public int MaxTokens { get; init; } = 64;

        [CommandOption("--context")]
        [Description("llama.cpp context size in tokens.")]
        [DefaultValue(8192)]
        public int Context { get; init; } = 8192;

        public override ValidationResult Validate() =>
            MaxTokens < 1 || Context < 256 ? ValidationResult.Error("--max-tokens >= 1 and --context >= 256.") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string data = Path.GetFullPath(settings.Data ?? Path.Combine(Path.GetTempPath(), "tierkv-chat"));
        string model = LlamaModelShape.IsShape(settings.Model) ? LlamaModelMaker.Ensure(data, settings.Model) : settings.Model;

        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        using var chat = TierKvChatClient.Create(model, new TierKvChatOptions
        {
            DataDirectory = data,
            ContextSize = settings.Context,
            MaxOutputTokens = settings.MaxTokens,
            Log = msg => err.MarkupLineInterpolated($"[grey]{msg}[/]"),
        });

        // The conversation so far is kept next to the KV, so a restarted chat continues it (and finds its chunks).
        string transcript = Path.Combine(data, "chat-history.txt");
        var conversation = new List<ChatMessage> { new(ChatRole.System, settings.System) };
        if (File.Exists(transcript))
        {
            foreach (string line in await File.ReadAllLinesAsync(transcript, cancellationToken).ConfigureAwait(false))
            {
                int tab = line.IndexOf('\t', StringComparison.Ordinal);
                if (tab > 0)
                {
                    conversation.Add(new ChatMessage(line[..tab] == "assistant" ? ChatRole.Assistant : ChatRole.User, line[(tab + 1)..].Replace("\\n", "\n", StringComparison.Ordinal)));
                }
            }

            err.MarkupLineInterpolated($"[grey]resuming {conversation.Count - 1} messages from {transcript}[/]");
        }

        err.MarkupLineInterpolated($"[grey]{model} in llama.cpp; KV in {data} (DRAM + SSD). Empty line or Ctrl-D to quit.[/]");
        while (true)
        {
            Console.Error.Write("> ");
            string? input = Console.ReadLine();
            if (string.IsNullOrWhiteSpace(input))
            {
                break;
            }

            conversation.Add(new ChatMessage(ChatRole.User, input));
            var reply = await chat.GetResponseAsync(conversation, cancellationToken: cancellationToken).ConfigureAwait(false);
            conversation.Add(new ChatMessage(ChatRole.Assistant, reply.Text));
            Console.WriteLine(reply.Text);
            var r = chat.LastRestore!;
            string served = r.ServedTokens.Count == 0 ? "nothing" : string.Join(", ", r.ServedTokens.Select(kv => $"{kv.Key} {kv.Value}"));
            err.MarkupLineInterpolated($"[grey]prompt {r.PromptTokens} tokens, restored {r.RestoredTokens} ({served}), {r.Reason}[/]");
            await File.AppendAllLinesAsync(transcript, [$"user\t{Escape(input)}", $"assistant\t{Escape(reply.Text)}"], cancellationToken).ConfigureAwait(false);
        }

        await chat.Connector.Store.PersistAsync(cancellationToken).ConfigureAwait(false);
        return 0;

        static string Escape(string s) => s.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", " ", StringComparison.Ordinal);
    }
}
