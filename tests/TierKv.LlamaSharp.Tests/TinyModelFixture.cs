using LLama;
using LLama.Common;
using LLama.Native;
using TierKv.LlamaSharp.Model;

namespace TierKv.LlamaSharp.Tests;

/// <summary>The tiny generated model, written once per test run, and helpers to run it under llama.cpp.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "tierkv-llama-tests-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        ModelPath = Path.Combine(Directory, "tiny.gguf");
        LlamaModelMaker.Write(ModelPath, LlamaModelShape.Tiny);
        OtherModelPath = Path.Combine(Directory, "tiny-other.gguf");
        LlamaModelMaker.Write(OtherModelPath, LlamaModelShape.Tiny, seed: 99);
        SmallModelPath = Path.Combine(Directory, "small.gguf");
        LlamaModelMaker.Write(SmallModelPath, LlamaModelShape.Small);
        LlamaRuntime.Configure();
        Weights = LLamaWeights.LoadFromFile(Params(ModelPath));
    }

    public string Directory { get; }

    public string ModelPath { get; }

    public string OtherModelPath { get; }

    /// <summary>The demo's shape (head dimension 64: what a q8_0 KV cache needs).</summary>
    public string SmallModelPath { get; }

    public LLamaWeights Weights { get; }

    public static ModelParams Params(string path, bool flashAttention = true, GGMLType? typeK = null, GGMLType? typeV = null) => new(path)
    {
        FlashAttention = flashAttention ? null : false,
        TypeK = typeK,
        TypeV = typeV,
        ContextSize = 2048,
        BatchSize = 512,
        UBatchSize = 512,
        Threads = 2,
        BatchThreads = 2,
        GpuLayerCount = 0,
        SeqMax = 1,
    };

    /// <summary>Deterministic text tokens of the model's vocabulary.</summary>
    public static int[] Tokens(LLamaContext ctx, int count, int seed)
    {
        var rnd = new Random(seed);
        var tokens = new List<int>();
        while (tokens.Count < count)
        {
            var words = Enumerable.Range(0, 40).Select(_ => LlamaModelMaker.Words[rnd.Next(LlamaModelMaker.Words.Count)]);
            tokens.AddRange(ctx.Tokenize(" " + string.Join(' ', words), false, true).Select(t => (int)t));
        }

        return [.. tokens.Take(count)];
    }

    public void Dispose()
    {
        Weights.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
