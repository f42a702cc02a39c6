using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Fitting;

/// <summary>What makes fits fast without changing what they fit: merged LR blocks on smooth decays, one law pass per point.</summary>
public sealed class FitSpeedTests
{
    // A 24,000-step warmup + cosine to 10%: the LR changes at every step after the warmup.
    private static double[] Cosine(int n = 24_000, int warmup = 500)
    {
        var rates = new double[n];
        for (int k = 0; k < n; k++)
        {
            rates[k] = k < warmup ? 3e-4 * (k + 1) / warmup
                : 3e-4 * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * (k - warmup) / (n - warmup))));
        }
        return rates;
    }

    private static int Blocks(double[] merged)
    {
        int blocks = 1;
        for (int k = 1; k < merged.Length; k++) blocks += merged[k] != merged[k - 1] ? 1 : 0;
        return blocks;
    }

    [Fact]
    public void ASmoothDecayMergesIntoFewerBlocksWithinTheSpreadAndTheSameIntrinsicTime()
    {
        var rates = Cosine();
        var fixedBlocks = LawFitter.BlockMeans(rates, 3e-4, 8);
        var grown = LawFitter.BlockMeans(rates, 3e-4, 8, spread: 0.01);
        // Spread 0 is the fixed 8-step rule; 1% merges the cosine into several times fewer blocks.
        Assert.Equal(fixedBlocks, LawFitter.BlockMeans(rates, 3e-4, 8, spread: 0));
        Assert.True(Blocks(grown) * 3 < Blocks(fixedBlocks), $"{Blocks(grown)} blocks against {Blocks(fixedBlocks)}");
        // Each merged block holds its steps' mean, the steps' LRs within 1% of each other (beyond the first 8 steps) and
        // the intrinsic time at its end the same as the exact schedule's.
        double exact = 0, merged = 0;
        for (int start = 0; start < rates.Length;)
        {
            int end = start + 1;
            while (end < rates.Length && grown[end] == grown[start]) end++;
            for (int k = start; k < end; k++) (exact, merged) = (exact + rates[k] / 3e-4, merged + grown[k]);
            Assert.Equal(exact, merged, 1e-9 * exact);
            if (end - start > 8)
            {
                var span = rates[start..end];
                Assert.True(span.Max() <= 1.01 * span.Min() * (1 + 1e-12), $"block {start}–{end}: {span.Min():E3}…{span.Max():E3}");
            }
            start = end;
        }
    }

    [Fact]
    public void TheDirectLawBarelyMovesOnTheGrownBlocks()
    {
        // The law's value on the merged cosine against the exact schedule, at typical fitted parameters (peak units).
        double[] parameters = [3.1, 4.0, 2e-4, 300, 0.5, 2.0, 2e-4];
        var law = new FslDirectLaw();
        Assert.Equal(0.01, law.FitScheduleBlockSpread);
        var rates = Cosine();
        int[] steps = [.. Enumerable.Range(1, 40).Select(i => i * 600 - 1)];
        var exact = law.Predict(parameters, new SampledSchedule(rates.Select(r => r / 3e-4).ToArray()), steps);
        var merged = law.Predict(parameters, new SampledSchedule(LawFitter.BlockMeans(rates, 3e-4, 8, law.FitScheduleBlockSpread)), steps);
        double worst = exact.Zip(merged, (e, m) => Math.Abs(Math.Log(m / e))).Max();
        Assert.True(worst < 2e-5, $"largest relative change {worst:E2}");
        // MPL keeps the fixed blocks: its fits moved by a quarter on the coarser staircase.
        Assert.Equal(0, new MultiPowerLaw().FitScheduleBlockSpread);
    }

    [Fact]
    public void TheMinimizerGetsEachAcceptedPointsJacobianFromTheSamePassAsItsValues()
    {
        // A model that counts its passes: y = a·e^(−b·x) + c in log space, fitted from a poor start.
        double[] x = [.. Enumerable.Range(0, 60).Select(i => i / 10.0)];
        double[] truth = [2.0, 0.7, 1.0];
        double[] observed = [.. x.Select(v => Math.Log(truth[0] * Math.Exp(-truth[1] * v) + truth[2]))];
        var passes = new List<(double[] Point, bool Jacobian)>();
        bool Model(double[] z, double[] logPredicted, double[]? jacobian)
        {
            passes.Add(((double[])z.Clone(), jacobian != null));
            for (int i = 0; i < x.Length; i++)
            {
                double e = Math.Exp(-z[1] * x[i]), y = z[0] * e + z[2];
                if (!(y > 0)) return false;
                logPredicted[i] = Math.Log(y);
                if (jacobian == null) continue;
                jacobian[i * 3] = e / y;
                jacobian[i * 3 + 1] = -z[0] * x[i] * e / y;
                jacobian[i * 3 + 2] = 1 / y;
            }
            return true;
        }
        var leastSquares = new HuberLeastSquares(Model, observed, [.. x.Select(_ => 1.0)], new double[3], new double[3], new FitOptions());
        var refined = leastSquares.Refine([1.0, 0.2, 0.5], rounds: 1, maxIterations: 100);
        Assert.Equal(FitExitReason.Converged, refined.Reason);
        Assert.Equal(truth[1], refined.Coordinates[1], 6);
        // A Jacobian pass at the point the pass before it evaluated is a second pass for one point: with values and
        // Jacobian evaluated apart, every Jacobian pass is one. Here most come with the values (only after a rejected trial
        // does an accepted point need its own Jacobian pass).
        int jacobians = passes.Count(p => p.Jacobian);
        int repeats = Enumerable.Range(1, passes.Count - 1).Count(i => passes[i].Jacobian && passes[i].Point.SequenceEqual(passes[i - 1].Point));
        Assert.True(jacobians > 0 && repeats * 2 < jacobians, $"{repeats} of {jacobians} Jacobian passes repeat the point before, of {passes.Count} passes");
    }
}
