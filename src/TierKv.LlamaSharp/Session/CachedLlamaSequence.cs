using System.Diagnostics;
using LLama.Native;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// One llama.cpp sequence with TierKV under it, the shape an application drives: <see cref="Prefill"/> restores the
/// prompt's longest cached prefix that the planner says is worth loading, decodes only the rest (measuring this
/// model's prefill speed for the planner) and starts storing the prompt's new chunks; <see cref="Append"/> decodes
/// generated tokens; <see cref="SaveAsync"/> stores the chunks completed since. Not thread-safe.
/// </summary>
public sealed class CachedLlamaSequence
{
    private readonly LlamaKvConnector _connector;
    private readonly LlamaDecoder _decoder;
    private readonly List<int> _tokens = [];
    private readonly int[] _one = new int[1];
    private Task<int> _pendingSave = Task.FromResult(0);

    /// <summary>Creates the sequence <paramref name="seq"/> over <paramref name="connector"/>'s context; logits have <paramref name="vocab"/> entries.</summary>
    public CachedLlamaSequence(LlamaKvConnector connector, LlamaDecoder decoder, LLamaSeqId seq, int vocab)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(decoder);
        _connector = connector;
        _decoder = decoder;
        Seq = seq;
        Logits = new float[vocab];
    }

    /// <summary>The llama.cpp sequence id.</summary>
    public LLamaSeqId Seq { get; }

    /// <summary>The tokens whose KV the sequence holds, from position 0.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>Logits after the last decoded token.</summary>
    public float[] Logits { get; }

    /// <summary>What the last <see cref="Prefill"/> restored.</summary>
    public LlamaRestore? LastRestore { get; private set; }

    /// <summary>
    /// Replaces the sequence's content with <paramref name="prompt"/>: restore, decode the rest, and store the prompt's
    /// new chunks in the background (awaited by the next <see cref="SaveAsync"/>).
    /// </summary>
    public LlamaRestore Prefill(ReadOnlySpan<int> prompt)
    {
        var restore = _connector.Restore(Seq, prompt);
        LastRestore = restore;
        long t0 = Stopwatch.GetTimestamp();
        _decoder.Decode(Seq, prompt[restore.RestoredTokens..], restore.RestoredTokens, Logits);
        _connector.Planner.ObservePrefill(prompt.Length - restore.RestoredTokens, restore.RestoredTokens, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        _tokens.Clear();
        _tokens.AddRange(prompt);
        _pendingSave = _connector.SaveAsync(Seq, prompt);
        return restore;
    }

    /// <summary>Decodes <paramref name="token"/> at the next position; <see cref="Logits"/> then predict the one after.</summary>
    public void Append(int token)
    {
        _one[0] = token;
        _decoder.Decode(Seq, _one, _tokens.Count, Logits);
        _tokens.Add(token);
    }

    /// <summary>Stores the chunks completed since the prompt (the prompt's own save is awaited first). Returns the chunks stored.</summary>
    public async Task<int> SaveAsync()
    {
        int stored = await _pendingSave.ConfigureAwait(false);
        _pendingSave = Task.FromResult(0);
        return stored + await _connector.SaveAsync(Seq, _tokens.ToArray()).ConfigureAwait(false);
    }
}
