using TierKv.Tiers.Slots;
using TierKv.Eviction;

namespace TierKv.Core.Tests.Eviction;

public class SlotLineageTests
{
    [Fact]
    public void A_parent_is_a_leaf_again_when_its_children_leave()
    {
        var l = new SlotLineage(4);
        l.Attach(0, -1);
        l.Attach(1, 0);
        l.Attach(2, 0);
        Assert.False(l.IsLeaf(0));
        l.Detach(1);
        Assert.False(l.IsLeaf(0));
        l.Detach(2);
        Assert.True(l.IsLeaf(0));
    }

    [Fact]
    public void A_child_never_touches_the_new_occupant_of_its_former_parents_slot()
    {
        var l = new SlotLineage(4);
        l.Attach(0, -1);
        l.Attach(1, 0);
        l.Detach(0);          // the parent leaves while its child stays
        l.Retire(0);
        l.Attach(0, -1);      // slot 0 now holds another chunk
        l.Attach(2, 0);       // with a child of its own
        l.Detach(1);          // the stale link must not drop slot 0's count
        Assert.False(l.IsLeaf(0));
        l.Detach(2);
        Assert.True(l.IsLeaf(0));
    }
}
