using LLama;
using LLama.Native;
using TierKv.LlamaSharp.Session;

namespace TierKv.LlamaSharp.Tests;

/// <summary>The turns the llama.cpp tests play, in this process or in a peer process (sequence 0).</summary>
internal static class LlamaTurns
{
    private static readonly LLamaSeqId Seq = (LLamaSeqId)0;

    /// <summary>Decodes a first prompt, generates a few tokens, stores the chunks; returns the sequence's tokens.</summary>
    public static async Task<int[]> FirstTurnAsync(LLamaContext ctx, LlamaKvConnector conn, int promptTokens)
    {
        var prompt = TinyModelFixture.Tokens(ctx, promptTokens, seed: 1);
        var dec = new LlamaDecoder(ctx.NativeHandle, 512);
        var logits = new float[ctx.Vocab.Count];
        dec.Truncate(Seq);
        dec.Decode(Seq, prompt, 0, logits);
        var reply = new List<int>();
        dec.Generate(Seq, logits, prompt.Length, 4, reply);
        int[] history = [.. prompt, .. reply.Take(3)];
        Assert.True(await conn.SaveAsync(Seq, history) > 0);
        await conn.Store.DrainAsync();
        return history;
    }

    public static (LlamaRestore Restore, float[] Logits) Cached(LLamaContext ctx, LlamaKvConnector conn, int[] prompt)
    {
        var logits = new float[ctx.Vocab.Count];
        var restore = conn.Restore(Seq, prompt);
        new LlamaDecoder(ctx.NativeHandle, 512).Decode(Seq, prompt.AsSpan(restore.RestoredTokens), restore.RestoredTokens, logits);
        return (restore, logits);
    }

    /// <summary>llama.cpp alone: the prompt decoded from scratch, cut back to the prefix, and the suffix decoded again.</summary>
    public static float[] Reference(LLamaContext ctx, int[] prompt, int prefix)
    {
        var dec = new LlamaDecoder(ctx.NativeHandle, 512);
        var logits = new float[ctx.Vocab.Count];
        dec.Truncate(Seq);
        dec.Decode(Seq, prompt, 0, logits);
        if (prefix > 0)
        {
            dec.Truncate(Seq, prefix);
            dec.Decode(Seq, prompt.AsSpan(prefix), prefix, logits);
        }

        return logits;
    }
}
