using CsCheck;
using TierKv.Analysis.Replay;

namespace TierKv.Analysis.Tests;

/// <summary>The statistic of <see cref="EstimatorCost"/>: pairs taken off-first and on-first together.</summary>
public sealed class EstimatorCostTests
{
    [Fact]
    public void An_effect_of_running_second_cancels_out_of_the_ratio()
    {
        // Replays with the estimator take 1/ratio of the time without it; whichever runs second in a pair takes `second`
        // of its time. Pairs alternate off-first, on-first.
        Gen.Select(Gen.Double[0.5, 1.0], Gen.Double[0.7, 1.3], Gen.Int[1, 6]).Sample((ratio, second, quartets) =>
        {
            var on = new double[2 * quartets];
            var off = new double[2 * quartets];
            for (int r = 0; r < on.Length; r++)
            {
                bool offFirst = r % 2 == 0;
                off[r] = offFirst ? 1.0 : second;
                on[r] = (1 / ratio) * (offFirst ? second : 1.0);
            }

            Assert.Equal(ratio, EstimatorCost.QuartetRatio(on, off), 1e-12);
        });
    }
}
