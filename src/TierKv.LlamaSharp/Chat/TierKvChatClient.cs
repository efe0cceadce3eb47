using System.Runtime.CompilerServices;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.AI;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.Session;
using TierKv.Nvme;
using TierKv.Store;

namespace TierKv.LlamaSharp.Chat;

/// <summary>
/// An <see cref="IChatClient"/> over llama.cpp (LLamaSharp) whose KV cache lives in TierKV: every request restores the
/// longest cached prefix of its conversation, decodes only the rest, and stores the new chunks, so a long system
/// prompt or chat history is not prefilled again, across requests, users and (with a data folder) restarts.
/// One line for an application: <c>IChatClient chat = TierKvChatClient.Create("model.gguf", new() { DataDirectory = "kv" });</c>
/// Requests are served one at a time (one llama.cpp sequence); replies are greedy.
/// </summary>
public sealed class TierKvChatClient : IChatClient
{
    private static readonly LLamaSeqId Seq = (LLamaSeqId)0;
    private static readonly LLamaSeqId Scratch = (LLamaSeqId)1;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly TieredStore _store;
    private readonly LlamaKvConnector _connector;
    private readonly LlamaDecoder _decoder;
    private readonly TierKvChatOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChatClientMetadata _metadata;

    private TierKvChatClient(LLamaWeights weights, LLamaContext context, TieredStore store, LlamaKvConnector connector, LlamaModelFile model, TierKvChatOptions options)
    {
        _weights = weights;
        _context = context;
        _store = store;
        _connector = connector;
        _options = options;
        _decoder = new LlamaDecoder(context.NativeHandle, (int)context.BatchSize);
        _metadata = new ChatClientMetadata("tierkv-llama.cpp", null, model.ModelId);
    }

    /// <summary>The connector (restores, saves, planner).</summary>
    public LlamaKvConnector Connector => _connector;

    /// <summary>What the last request restored.</summary>
    public LlamaRestore? LastRestore { get; private set; }

    /// <summary>Loads <paramref name="modelPath"/> in llama.cpp with TierKV's DRAM (and SSD, with a data folder) tiers under it.</summary>
    public static TierKvChatClient Create(string modelPath, TierKvChatOptions? options = null)
    {
        options ??= new TierKvChatOptions();
        options.Validate();
        LlamaRuntime.Configure();
        var model = LlamaModelFile.Open(modelPath, options.DataDirectory);
        var parameters = new ModelParams(model.Path)
        {
            ContextSize = (uint)options.ContextSize,
            BatchSize = 512,
            UBatchSize = 512,
            Threads = options.Threads,
            BatchThreads = options.Threads,
            GpuLayerCount = 0,
            SeqMax = 2,
            KVUnified = true,
        };
        var weights = LLamaWeights.LoadFromFile(parameters);
        LLamaContext? context = null;
        TieredStore? store = null;
        try
        {
            context = weights.CreateContext(parameters);
            var layout = LlamaKvConnector.LayoutOf(model, parameters.TypeK);
            store = TierStackBuilder.Build(new TierStackOptions
            {
                DataDirectory = options.DataDirectory ?? "",
                DramCapacityBytes = System.Math.Max((long)options.DramMiB << 20, layout.ChunkBytes),
                SsdCapacityBytes = options.DataDirectory is null ? 0 : System.Math.Max((long)options.SsdMiB << 20, layout.ChunkBytes),
                ChunkBytes = layout.ChunkBytes,
                Log = options.Log,
            });
            var connector = new LlamaKvConnector(context.NativeHandle, model, store, Seq, log: options.Log);
            if (connector.Disabled is null && LlamaKvConnector.HasUnifiedKvCache(context.NativeHandle))
            {
                // Restores go chunk group by chunk group through the second sequence (docs/llamacpp.md).
                connector.ScratchSequence = Scratch;
            }

            return new TierKvChatClient(weights, context, store, connector, model, options);
        }
        catch
        {
            store?.Dispose();
            context?.Dispose();
            weights.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse();
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int[] prompt = Prompt(messages);
            int max = System.Math.Min(options?.MaxOutputTokens ?? _options.MaxOutputTokens, _options.ContextSize - prompt.Length - 1);
            if (max < 1)
            {
                throw new InvalidOperationException($"The conversation has {prompt.Length} tokens; the context holds {_options.ContextSize}. Start a new conversation or raise TierKvChatOptions.ContextSize.");
            }

            var sequence = new CachedLlamaSequence(_connector, _decoder, Seq, _weights.Vocab.Count);
            var restore = sequence.Prefill(prompt);
            LastRestore = restore;
            var text = new StreamingTokenDecoder(_context);
            int eos = _weights.Vocab.EOS is { } e ? (int)e : -1;
            int generated = 0;
            string responseId = Guid.NewGuid().ToString("N");
            while (generated < max)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int next = LlamaDecoder.ArgMax(sequence.Logits);
                if (next == eos)
                {
                    break;
                }

                generated++;
                text.Add(next);
                yield return new ChatResponseUpdate(ChatRole.Assistant, text.Read()) { ResponseId = responseId };
                if (generated == max)
                {
                    break;
                }

                sequence.Append(next);
            }

            // The sequence holds the prompt and every generated token but the last; store its new chunks.
            await sequence.SaveAsync().ConfigureAwait(false);
            yield return new ChatResponseUpdate
            {
                ResponseId = responseId,
                FinishReason = generated == max ? ChatFinishReason.Length : ChatFinishReason.Stop,
                Contents = [new UsageContent(new UsageDetails { InputTokenCount = prompt.Length, OutputTokenCount = generated, TotalTokenCount = prompt.Length + generated })],
                AdditionalProperties = new AdditionalPropertiesDictionary
                {
                    ["tierkv.restored_tokens"] = restore.RestoredTokens,
                    ["tierkv.plan"] = restore.Reason,
                },
            };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_connector) ? _connector
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _connector.Dispose();
        _store.Dispose();
        _context.Dispose();
        _weights.Dispose();
        _gate.Dispose();
    }

    /// <summary>
    /// The conversation as tokens, message by message (<c>\n{Role}: {text}</c>, then <c>\nAssistant:</c>), so an earlier
    /// conversation's tokens are a prefix of a later one's and its chunks are found again.
    /// </summary>
    private int[] Prompt(IEnumerable<ChatMessage> messages)
    {
        var tokens = new List<int>();
        foreach (var m in messages)
        {
            string role = m.Role == ChatRole.System ? "System" : m.Role == ChatRole.Assistant ? "Assistant" : m.Role == ChatRole.Tool ? "Tool" : "User";
            tokens.AddRange(_context.Tokenize($"\n{role}: {m.Text}", false, true).Select(t => (int)t));
        }

        tokens.AddRange(_context.Tokenize("\nAssistant:", false, true).Select(t => (int)t));
        return [.. tokens];
    }
}
