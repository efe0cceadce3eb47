using TierKv.Keys;

namespace TierKv.Core.Tests;

public class PrefixHasherTests
{
    private static readonly KvLayout Small = new("test/model", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4);

    [Fact]
    public void Keys_chain_so_equal_keys_mean_equal_prefixes()
    {
        int[] a = [1, 2, 3, 4, 5, 6, 7, 8];
        int[] b = [1, 2, 3, 4, 5, 6, 7, 9];
        var ka = PrefixHasher.ComputeKeys(Small, TenantSalt.None, a);
        var kb = PrefixHasher.ComputeKeys(Small, TenantSalt.None, b);
        Assert.Equal(2, ka.Length);
        Assert.Equal(ka[0], kb[0]);
        Assert.NotEqual(ka[1], kb[1]);
    }
}
