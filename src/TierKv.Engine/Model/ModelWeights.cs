using System.Globalization;
using TierKv.Engine.Math;

namespace TierKv.Engine.Model;

/// <summary>All weights of a model, float32, packed for the engine's kernels.</summary>
public sealed class ModelWeights : IDisposable
{
    private ModelWeights(ModelConfig config, float[] embedding, LayerWeights[] layers, float[] finalNorm, PackedMatrix lmHead)
    {
        Config = config;
        Embedding = embedding;
        Layers = layers;
        FinalNorm = finalNorm;
        LmHead = lmHead;
    }

    /// <summary>The model's hyper-parameters.</summary>
    public ModelConfig Config { get; }

    /// <summary>Token embedding, <c>[vocab, hidden]</c> row-major.</summary>
    public float[] Embedding { get; }

    /// <summary>Layers in order.</summary>
    public IReadOnlyList<LayerWeights> Layers { get; }

    /// <summary>RMSNorm weight after the last layer.</summary>
    public float[] FinalNorm { get; }

    /// <summary>Output projection hidden → vocab (the embedding when tied).</summary>
    public PackedMatrix LmHead { get; }

    /// <summary>Reads every tensor of <paramref name="config"/> from <paramref name="source"/> by Hugging Face name.</summary>
    public static ModelWeights Load(ModelConfig config, ITensorSource source)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(source);
        config.Validate();
        int d = config.Hidden, q = config.QDim, kv = config.KvDim, f = config.Intermediate;
        var embedding = source.ReadF32("model.embed_tokens.weight", (long)config.VocabSize * d);
        var layers = new LayerWeights[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"model.layers.{l}.");
            var qkv = new PackedMatrix(d, q + (2 * kv));
            qkv.PackFromOutIn(source.ReadF32(p + "self_attn.q_proj.weight", (long)q * d), 0);
            qkv.PackFromOutIn(source.ReadF32(p + "self_attn.k_proj.weight", (long)kv * d), q);
            qkv.PackFromOutIn(source.ReadF32(p + "self_attn.v_proj.weight", (long)kv * d), q + kv);
            float[]? bias = null;
            if (config.QkvBias)
            {
                bias = new float[q + (2 * kv)];
                source.ReadF32(p + "self_attn.q_proj.bias", q).CopyTo(bias, 0);
                source.ReadF32(p + "self_attn.k_proj.bias", kv).CopyTo(bias, q);
                source.ReadF32(p + "self_attn.v_proj.bias", kv).CopyTo(bias, q + kv);
            }

            var o = new PackedMatrix(q, d);
            o.PackFromOutIn(source.ReadF32(p + "self_attn.o_proj.weight", (long)d * q));
            var gu = new PackedMatrix(d, 2 * f);
            gu.PackFromOutIn(source.ReadF32(p + "mlp.gate_proj.weight", (long)f * d), 0);
            gu.PackFromOutIn(source.ReadF32(p + "mlp.up_proj.weight", (long)f * d), f);
            var down = new PackedMatrix(f, d);
            down.PackFromOutIn(source.ReadF32(p + "mlp.down_proj.weight", (long)d * f));
            layers[l] = new LayerWeights
            {
                AttentionNorm = source.ReadF32(p + "input_layernorm.weight", d),
                Qkv = qkv,
                QkvBias = bias,
                Output = o,
                MlpNorm = source.ReadF32(p + "post_attention_layernorm.weight", d),
                GateUp = gu,
                Down = down,
            };
        }

        var finalNorm = source.ReadF32("model.norm.weight", d);
        var lm = new PackedMatrix(d, config.VocabSize);
        bool tied = config.TieEmbeddings || !source.Contains("lm_head.weight");
        lm.PackFromOutIn(tied ? embedding : source.ReadF32("lm_head.weight", (long)config.VocabSize * d));
        return new ModelWeights(config, embedding, layers, finalNorm, lm);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var l in Layers)
        {
            l.Dispose();
        }

        LmHead.Dispose();
    }
}
