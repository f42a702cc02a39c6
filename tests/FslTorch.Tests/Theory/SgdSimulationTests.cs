using FslTorch.Schedules;
using FslTorch.Theory;
using Xunit;

namespace FslTorch.Tests.Theory;

/// <summary>The SGD simulator against sampled runs and against what the FSL's theory says of it ([P1], spec §2).</summary>
public sealed class SgdSimulationTests
{
    [Fact]
    public void TheExactRiskIsTheMeanOfSampledRuns()
    {
        var task = new KernelRegressionTask(features: 20, capacity: 2, source: 0.5, noiseVariance: 0.5, batchSize: 2);
        var rates = Schedule.Wsd(0.4, 10, 60, 100).Sample(100);
        var exact = SgdSimulation.ExpectedRisk(task, rates);
        const int runs = 3000;
        var sums = new double[rates.Length + 1];
        var squares = new double[rates.Length + 1];
        for (int seed = 0; seed < runs; seed++)
        {
            var risk = SgdSimulation.Sample(task, rates, seed).Risk;
            for (int k = 0; k < risk.Count; k++)
            {
                sums[k] += risk[k];
                squares[k] += risk[k] * risk[k];
            }
        }
        foreach (int k in new[] { 0, 10, 40, 70, 100 })
        {
            double mean = sums[k] / runs, error = Math.Sqrt((squares[k] / runs - mean * mean) / runs);
            Assert.True(Math.Abs(mean - exact[k]) <= 4 * error + 1e-12, $"step {k}: sampled {mean:G5} ± {error:G2}, exact {exact[k]:G5}");
        }
        Assert.True(exact[100] < exact[0] / 5, "SGD learned");
    }

    [Fact]
    public void AtConstantLrAndNoLabelNoiseTheRiskFallsAsIntrinsicTimeToTheMinusS()
    {
        // Signal learning, e(t) = (1 + t)^(−s) up to constants (spec §2): the log-log slope against t = η·k.
        foreach (double s in new[] { 0.3, 0.8 })
        {
            var task = new KernelRegressionTask(features: 20_000, capacity: 2, source: s, noiseVariance: 0);
            const double eta = 0.5;
            var risk = SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(eta, 4000).ToArray());
            var points = Enumerable.Range(0, 20).Select(i => (int)Math.Round(100 * Math.Pow(40, i / 19.0))).Distinct()
                .Select(k => (X: Math.Log(eta * k), Y: Math.Log(risk[k]))).ToList();
            double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
            double slope = points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
            Assert.InRange(slope, -s - 0.05, -s + 0.05);
        }
    }

    [Fact]
    public void AtConstantLrTheNoiseFloorIsProportionalToTheLr()
    {
        // The stationary risk of the noise ∝ η·σ² (for small η·Σλ/B); s = 2 makes the signal negligible by then.
        var task = new KernelRegressionTask(features: 2000, capacity: 2, source: 2, noiseVariance: 1, batchSize: 4);
        double Floor(double eta) => SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(eta, (int)(40_000 * 0.05 / eta)).ToArray())[^1];
        double ratio = Floor(0.05) / Floor(0.025);
        Assert.InRange(ratio, 1.9, 2.1);
    }

    [Fact]
    public void InTheHardRegimeWsdBeatsExponentialDecayWhichBeatsAConstantLr()
    {
        var task = new KernelRegressionTask(features: 5000, capacity: 2, source: 0.25, noiseVariance: 1, batchSize: 1);
        Assert.False(task.IsEasy);
        const int n = 4000;
        const double peak = 0.2;
        double Final(LearningRateSchedule schedule) => SgdSimulation.ExpectedRisk(task, schedule.Sample(n))[^1];
        double wsd = Final(Schedule.Wsd(peak, 0, WsdSchedule.DecayStartForFraction(n, 0.2), n));
        double exponential = Final(Schedule.Exponential(peak, Math.Pow(0.01, 1.0 / n)));
        double constant = Final(Schedule.Constant(peak));
        Assert.True(wsd < exponential, $"wsd {wsd:G5}, exponential {exponential:G5}");
        Assert.True(exponential < constant, $"exponential {exponential:G5}, constant {constant:G5}");
    }

    [Fact]
    public void TheNoiseApproachesItsFloorAlongTheFslKernel()
    {
        // Spec §8: at a constant γ the FSL's noise term is γσ²·β/(β−1)·[1 − (1+t)^(−(1−1/β))]: the gap to the floor
        // falls as t^(−(1−1/β)). The simulator's noise alone (θ₀ = θ*) against its exact stationary risk:
        foreach (double beta in new[] { 2.0, 3.0 })
        {
            var task = new KernelRegressionTask(features: 20_000, capacity: beta, source: 0.5, noiseVariance: 1, batchSize: 1);
            const double eta = 0.05;
            var noise = SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(eta, 20_000).ToArray(), startAtTarget: true);
            double floor = SgdSimulation.StationaryRisk(task, eta);
            Assert.True(noise[^1] < floor && noise[^1] > 0.9 * floor, $"β={beta}: noise {noise[^1]:G5}, floor {floor:G5}");
            var points = Enumerable.Range(0, 15).Select(i => (int)Math.Round(200 * Math.Pow(50, i / 14.0)))
                .Select(k => (X: Math.Log(eta * k), Y: Math.Log(floor - noise[k]))).ToList();
            double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
            double slope = points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
            Assert.InRange(slope, -(1 - 1 / beta) - 0.05, -(1 - 1 / beta) + 0.05);
        }
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void AfterAnLrDropTheNoiseFollowsThePiecewiseConstantIntegralOnceTheFirstForgettingHasPassed(double beta)
    {
        // Spec §8: with γ₁ up to intrinsic time a and γ₂ after, the FSL's noise term is
        // σ²·[γ₁·I(0, a) + γ₂·I(a, t)], I(lo, hi) = [(1+t−hi)^(1−α) − (1+t−lo)^(1−α)]/(α−1), α = 2 − 1/β. Against the
        // simulator's noise alone, with the constant the stationary risk at γ₁ gives (the FSL holds up to constants):
        // the two agree before the drop and again long after it, and in between the exact risk falls faster than the
        // integral says (its kernel (1+t)^(−α) forgets the first noise more slowly than the spectrum's exponentials do).
        var task = new KernelRegressionTask(features: 20_000, capacity: beta, source: 0.5, noiseVariance: 1, batchSize: 1);
        const double g1 = 0.05, g2 = 0.01;
        const int k1 = 4000, k2 = 20_000;
        var noise = SgdSimulation.ExpectedRisk(task, [.. Enumerable.Repeat(g1, k1), .. Enumerable.Repeat(g2, k2)], startAtTarget: true);
        double alpha = 2 - 1 / beta, a = g1 * k1;
        double c = SgdSimulation.StationaryRisk(task, g1) / (g1 * beta / (beta - 1));
        double Ratio(int k)
        {
            double t = k < k1 ? g1 * (k + 1) : a + g2 * (k + 1 - k1);
            double I(double lo, double hi) => (Math.Pow(1 + t - hi, 1 - alpha) - Math.Pow(1 + t - lo, 1 - alpha)) / (alpha - 1);
            return noise[k] / (c * (k < k1 ? g1 * I(0, t) : g1 * I(0, a) + g2 * I(a, t)));
        }
        string report = string.Join(", ", new[] { 3999, 4100, 4300, 5000, 10_000, 23_999 }.Select(k => $"{k}: {Ratio(k):F3}"));
        Assert.InRange(Ratio(3999), 0.98, 1.08);                                              // before the drop
        Assert.InRange(new[] { 4100, 4300, 5000 }.Min(Ratio), 0.5, 0.75);                   // the first units of time after it
        Assert.InRange(Ratio(23_999), 0.88, 0.96);                                            // 200 units after it
        Assert.True(Ratio(23_999) > Ratio(10_000) && Ratio(10_000) > Ratio(5000), report);  // converging
    }

    [Fact]
    public void BadSettingsAreRefusedWithTheParameterNamed()
    {
        Assert.Equal("capacity", Assert.Throws<ArgumentOutOfRangeException>(() => new KernelRegressionTask(10, 1.0, 0.5, 0)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentOutOfRangeException>(() => new KernelRegressionTask(10, 2, 0, 0)).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentOutOfRangeException>(() => new KernelRegressionTask(0, 2, 0.5, 0)).ParamName);
        var task = new KernelRegressionTask(10, 2, 0.5, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => SgdSimulation.ExpectedRisk(task, [0.1, -0.1]));
        // A rate too large for the spectrum diverges to +∞ instead of returning NaN.
        Assert.True(double.IsPositiveInfinity(SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(50.0, 2000).ToArray())[^1]));
    }

    [Fact]
    public void AForkStartsAtTheRunsIterateAndLeavesTheRunAsItWouldHaveBeen()
    {
        var task = new KernelRegressionTask(features: 50, capacity: 2, source: 0.5, noiseVariance: 0.5, batchSize: 4);
        var plain = new SgdRun(task, seed: 3);
        var forked = new SgdRun(task, seed: 3);
        for (int k = 0; k < 40; k++) Assert.Equal(plain.Step(0.1), forked.Step(0.1));
        var probe = forked.Fork(seed: 99);
        Assert.Equal(forked.Risk, probe.Risk);
        Assert.Equal(forked.Steps, probe.Steps);
        // The fork goes its own way (its own batches, another LR) ...
        for (int k = 0; k < 20; k++) probe.Step(0.1 * (1 - k / 20.0));
        Assert.NotEqual(forked.Risk, probe.Risk);
        Assert.Equal(60, probe.Steps);
        // ... and the run it came from goes on exactly as the run that never forked.
        for (int k = 0; k < 40; k++) Assert.Equal(plain.Step(0.1), forked.Step(0.1));
        Assert.Equal(plain.Risk, forked.Risk);
    }
}
