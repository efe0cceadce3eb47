using LLama.Native;

namespace TierKv.LlamaSharp.Session;

/// <summary>
/// Feeds tokens to one llama.cpp sequence in batches of the context's batch size, always cut the same way for the same
/// start position, so two runs that decode the same suffix after the same prefix do the same arithmetic.
/// </summary>
public sealed class LlamaDecoder
{
    private readonly SafeLLamaContextHandle _ctx;
    private readonly LLamaBatch _batch = new();
    private readonly int _batchSize;

    /// <summary>Creates a decoder for <paramref name="context"/> with batches of at most <paramref name="batchSize"/> tokens.</summary>
    public LlamaDecoder(SafeLLamaContextHandle context, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _ctx = context;
        _batchSize = batchSize;
    }

    /// <summary>The native context.</summary>
    public SafeLLamaContextHandle Context => _ctx;

    /// <summary>
    /// Decodes <paramref name="tokens"/> at positions <paramref name="start"/>.. of <paramref name="seq"/> and copies the
    /// last token's logits into <paramref name="logits"/>. Throws <see cref="InvalidOperationException"/> when llama.cpp
    /// refuses a batch (no room in the KV cache, ...).
    /// </summary>
    public void Decode(LLamaSeqId seq, ReadOnlySpan<int> tokens, int start, Span<float> logits)
    {
        if (tokens.Length == 0)
        {
            throw new ArgumentException("At least one token must be decoded to get logits.", nameof(tokens));
        }

        for (int s = 0; s < tokens.Length; s += _batchSize)
        {
            _batch.Clear();
            int e = System.Math.Min(tokens.Length, s + _batchSize);
            for (int i = s; i < e; i++)
            {
                _batch.Add(tokens[i], start + i, seq, i == tokens.Length - 1);
            }

            var result = _ctx.Decode(_batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode failed ({result}) at position {start + s} of sequence {(int)seq}: is the context size large enough?");
            }
        }

        _ctx.GetLogitsIth(_batch.TokenCount - 1).CopyTo(logits);
    }

    /// <summary>Removes every cell of <paramref name="seq"/> from position <paramref name="from"/> on.</summary>
    public void Truncate(LLamaSeqId seq, int from = 0) => _ctx.MemorySequenceRemove(seq, from, -1);

    /// <summary>The index of the largest logit (greedy sampling; the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>
    /// Greedy generation of <paramref name="count"/> tokens after <paramref name="logits"/> (the logits of position
    /// <paramref name="position"/> - 1); the generated tokens are appended to <paramref name="output"/>. Stops early at
    /// <paramref name="stopToken"/>.
    /// </summary>
    public void Generate(LLamaSeqId seq, Span<float> logits, int position, int count, List<int> output, int stopToken = -1)
    {
        ArgumentNullException.ThrowIfNull(output);
        Span<int> one = stackalloc int[1];
        for (int i = 0; i < count; i++)
        {
            int next = ArgMax(logits);
            output.Add(next);
            if (next == stopToken || i == count - 1)
            {
                break;
            }

            one[0] = next;
            Decode(seq, one, position + i, logits);
        }
    }
}
