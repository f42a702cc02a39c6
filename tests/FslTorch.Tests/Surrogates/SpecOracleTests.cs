using FslTorch.Schedules;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Surrogates;

/// <summary>The exact oracles of docs/fsl-spec.md §8.</summary>
public sealed class SpecOracleTests
{
    // The direct form with only its label-noise term: L0 and A negligible, ρ so large that e_j ≤ 1 is too,
    // and C = 1/ρ, so that L_k ≈ Σ_{j<k} (1 + t_k − t_{j+1})^(−α)·η_j² (τ = 1).
    private static double[] NoiseOnly(double beta) => [1e-12, 1e-12, 1e-12, 1.0, 0.5, beta, 1.0];

    [Theory]
    [InlineData(1.5)]
    [InlineData(3.0)]
    public void ConstantLearningRateNoiseMatchesItsClosedForm(double beta)
    {
        // noise(t) = γσ²·β/(β−1)·[1 − (1+t)^(−(1−1/β))] with γσ² ↔ η: the Riemann sum of the continuum integral.
        const double eta = 1e-3;
        const int steps = 10_000;
        var schedule = Schedule.Constant(eta).SampleWithIntrinsicTime(steps);
        var at = new[] { 1000, 4000, 9999 };
        var law = new FslDirectLaw();
        var predicted = law.Predict(NoiseOnly(beta), schedule, at);
        for (int i = 0; i < at.Length; i++)
        {
            double t = schedule.IntrinsicTime[at[i] - 1];
            double exact = eta * beta / (beta - 1) * (1 - Math.Pow(1 + t, -(1 - 1 / beta)));
            Assert.True(Math.Abs(predicted[i] - exact) <= 2e-3 * exact, $"t = {t}: {predicted[i]:R} vs {exact:R}");
        }
    }

    [Fact]
    public void PiecewiseConstantNoiseMatchesTheSegmentIntegrals()
    {
        // ∫_a^b (1 + t − r)^(−α) dr = [(1+t−b)^(1−α) − (1+t−a)^(1−α)]/(α−1), α = 2 − 1/β, per segment of constant η.
        const double beta = 2, alpha = 2 - 1 / beta, first = 2e-3, second = 5e-4;
        const int drop = 5000, steps = 12_000;
        var schedule = Schedule.MultiStep(first, [drop], [second / first]).SampleWithIntrinsicTime(steps);
        double Segment(double t, double a, double b) => (Math.Pow(1 + t - b, 1 - alpha) - Math.Pow(1 + t - a, 1 - alpha)) / (alpha - 1);
        var at = new[] { 6000, 9000, 11_999 };
        var predicted = new FslDirectLaw().Predict(NoiseOnly(beta), schedule, at);
        for (int i = 0; i < at.Length; i++)
        {
            double t = schedule.IntrinsicTime[at[i] - 1], t1 = schedule.IntrinsicTime[drop - 1];
            double exact = first * Segment(t, 0, t1) + second * Segment(t, t1, t);
            Assert.True(Math.Abs(predicted[i] - exact) <= 2e-3 * exact, $"t = {t}: {predicted[i]:R} vs {exact:R}");
        }
    }

    [Fact]
    public void ASingleDropHasTheOneSourceClosedForm()
    {
        double[] p = [3.0, 0.7, 0.4, 0.2, 1.5, 0.02, 0.8]; // L0, c1, s, B, r, c4, γ
        const double eta = 1.0, after = 0.25;
        const int drop = 3000, steps = 8000;
        var schedule = Schedule.MultiStep(eta, [drop], [after]).SampleWithIntrinsicTime(steps);
        var at = new[] { 100, 2999, 3000, 3001, 3500, 7999 };
        var fast = new FslLaw().Predict(p, schedule, at);
        for (int i = 0; i < at.Length; i++)
        {
            double t = schedule.IntrinsicTime[at[i]], ti = schedule.IntrinsicTime[drop];
            double exact = p[0] + p[1] * Math.Pow(t, -p[2]);
            if (at[i] >= drop)
            {
                exact -= p[3] * (eta - after) * (1 + p[4] * Math.Pow(ti, -p[2])) * (1 - Math.Pow(1 + p[5] * (t - ti), -p[6]));
            }
            Assert.True(Math.Abs(fast[i] - exact) <= 1e-9, $"step {at[i]}: {fast[i]:R} vs {exact:R}");
        }
    }

    [Theory]
    [InlineData(1e3, 0.06139, 5.754e-3)]
    [InlineData(1e6, 9.8703e-4, 2.512e-5)]
    public void TheUncappedOptimumReachesTheCheckedValues(double steps, double loss, double scale)
    {
        var (c, l) = FslOptimalSchedule.SolveUncapped(s: 1, beta: 2, noise: 1, totalSteps: (long)steps);
        Assert.Equal(loss, l, loss * 1e-3);
        // The loss is flat at its minimum: the spec's checked c* lie within 0.5% of the closed-form optimum.
        Assert.Equal(scale, c, scale * 1e-2);
    }

    [Theory]
    [InlineData(0.3, 2.0, 1e5, 0.069032, 0.9249)]
    [InlineData(0.2, 3.0, 1e6, 0.07060, 0.2395)]
    public void TheCappedOptimumReachesTheCheckedValues(double s, double beta, double steps, double loss, double decayFraction)
    {
        // Spec §8 with η_max = 1. The loss is flat in c near its minimum: the checked loss is the continuum loss at the
        // checked decay fraction (to its printed digits), and the optimum found lies at or just below it.
        var (c, l, fraction) = FslOptimalSchedule.SolveCapped(s, beta, 1, (long)steps, 1);
        Assert.InRange(l, loss * (1 - 2e-4), loss + 5e-6);
        Assert.InRange(fraction, decayFraction - 0.02, decayFraction + 0.02);
        double lnLow = Math.Log(1e-9), lnHigh = 0; // the scale whose decay fraction is the checked one (larger c, shorter decay)
        for (int i = 0; i < 200; i++)
        {
            double mid = 0.5 * (lnLow + lnHigh);
            if (FslOptimalSchedule.ContinuumLoss(Math.Exp(mid), s, beta, 1, (long)steps, 1).DecayFraction > decayFraction) lnLow = mid; else lnHigh = mid;
        }
        Assert.Equal(loss, FslOptimalSchedule.ContinuumLoss(Math.Exp(lnLow), s, beta, 1, (long)steps, 1).Loss, loss < 0.07 ? 5e-7 : 5e-6);
        // Uncapped, the same loss functional is SolveUncapped's.
        var (cu, lu) = FslOptimalSchedule.SolveUncapped(s, beta, 1, (long)steps);
        Assert.Equal(lu, FslOptimalSchedule.ContinuumLoss(cu, s, beta, 1, (long)steps).Loss, lu * 1e-9);
        Assert.True(c > 0 && c < 1);
    }

    [Fact]
    public void TheOptimalScheduleSpendsTheIntrinsicTimeOfItsClosedForm()
    {
        // 1 + T(N) = (1 + y)^(2β) with y = c·N/(2β): the schedule's continuum integral; the step sum is its Riemann sum.
        const long n = 100_000;
        const double beta = 2;
        var (c, _) = FslOptimalSchedule.SolveUncapped(1, beta, 1, n);
        var sampled = new FslOptimalSchedule(c, beta, n).SampleWithIntrinsicTime(n);
        double y = c * n / (2 * beta);
        Assert.Equal(Math.Pow(1 + y, 2 * beta), 1 + sampled.IntrinsicTime[^1], Math.Pow(1 + y, 2 * beta) * 1e-3);
    }
}
