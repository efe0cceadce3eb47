using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers.Slots;

namespace TierKv.LlamaSharp.Tests;

public sealed partial class CachedSequenceTests
{
    [Fact]
    public async Task A_system_prompt_saved_with_a_priority_keeps_it_and_the_rest_of_the_sequence_does_not()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            // 300 tokens cover the first chunk of 256 whole; the second chunk holds the conversation's own tokens too.
            conn.PromptPriority = new PrefixPriority(300, 200);
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 700);
            var keys = PrefixHasher.ComputeKeys(conn.Layout!, TenantSalt.None, history);
            Assert.Equal(2, keys.Length);
            Assert.True(store.Tiers[0].Contains(keys[0]) && store.Tiers[0].Contains(keys[1]));
            Assert.Equal(200, store.Priorities.PriorityOf(keys[0]));
            Assert.Equal(ChunkPriorities.Normal, store.Priorities.PriorityOf(keys[1]));
        }
    }
}
