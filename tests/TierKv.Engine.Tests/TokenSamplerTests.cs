using TierKv.Engine.Serving;

namespace TierKv.Engine.Tests;

public class TokenSamplerTests
{
    private static readonly float[] Logits = [0.1f, 2.5f, -1f, 2.4f, 0f];

    [Fact]
    public void Greedy_picks_the_largest_logit()
    {
        Assert.Equal(1, new TokenSampler().Sample(Logits));
    }

    [Fact]
    public void Top_k_of_one_is_greedy_and_sampling_is_reproducible_by_seed()
    {
        Assert.Equal(1, new TokenSampler(temperature: 1f, topK: 1, seed: 5).Sample(Logits));
        var a = new TokenSampler(temperature: 1f, seed: 9);
        var b = new TokenSampler(temperature: 1f, seed: 9);
        var fromA = Enumerable.Range(0, 50).Select(_ => a.Sample(Logits)).ToArray();
        Assert.Equal(fromA, Enumerable.Range(0, 50).Select(_ => b.Sample(Logits)));
        // Tokens 1 and 3 carry almost all the mass; both show up over 50 draws.
        Assert.Contains(1, fromA);
        Assert.Contains(3, fromA);
    }

    [Fact]
    public void Top_p_keeps_only_the_nucleus()
    {
        var s = new TokenSampler(temperature: 1f, topP: 0.4f, seed: 1);
        Assert.All(Enumerable.Range(0, 30).Select(_ => s.Sample(Logits)), t => Assert.Equal(1, t));
    }
}
