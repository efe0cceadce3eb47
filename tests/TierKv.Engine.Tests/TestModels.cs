using TierKv.Engine.Model;

namespace TierKv.Engine.Tests;

/// <summary>Shapes small enough for fast tests, with every structural feature (GQA, tied or untied, biases).</summary>
internal static class TestModels
{
    public static ModelConfig Micro(bool bias = false, bool tied = true, string name = "test/micro") => new()
    {
        Name = name,
        VocabSize = 500,
        Hidden = 64,
        Layers = 2,
        Heads = 4,
        KvHeads = 2,
        HeadDim = 16,
        Intermediate = 96,
        TieEmbeddings = tied,
        QkvBias = bias,
        MaxPositions = 4096,
    };

    public static Transformer Build(ModelConfig config, ulong seed = 7) => new(ModelWeights.Load(config, new SyntheticWeights(config, seed)));

    public static int[] Tokens(int count, int seed, int vocab = 500)
    {
        var r = new Random(seed);
        var t = new int[count];
        for (int i = 0; i < count; i++)
        {
            t[i] = r.Next(vocab);
        }

        return t;
    }
}
