using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Surrogates;
using FslTorch.Tests.Fitting;
using Xunit;

namespace FslTorch.Tests.Control;

/// <summary>The check of a law's extrapolation on the run itself before the decay controller acts.</summary>
public sealed class HindcastTests
{
    private const double P = SyntheticCurves.Peak;
    private static readonly double[] Raw = [3.2, 20 * Math.Pow(P, 0.5), 0.5, 0.25 / P, Math.Pow(P, 0.5) * 1.0, 0.004 / P, 0.7];

    private static Hindcast? Run(ObservedCurve curve, int through) =>
        Hindcast.Run(new FslLaw(), curve.Where(step => step < through), SyntheticCurves.Steps, new FitOptions(), window: 120, minPoints: 12);

    [Fact]
    public void ACurveTheLawDescribesPasses()
    {
        var curve = SyntheticCurves.Generate(new FslLaw(), Raw, "constant", 1e-3, seed: 5);
        var check = Run(curve, 4000);
        Assert.NotNull(check);
        // Points every 40 steps: the last one before 4000 is 3960, so t = 3961 and t' = t²/N − 1.
        Assert.Equal(3961L * 3961 / SyntheticCurves.Steps - 1, check.FittedThrough);
        Assert.Equal(3960, check.CheckedThrough);
        Assert.True(check.ObservedDrop > 0.03, $"drop {check.ObservedDrop}");
        Assert.True(check.Passes(0.1), $"error {check.Error} on a drop of {check.ObservedDrop} (se {check.StandardError})");
    }

    [Fact]
    public void ACurveThatSpeedsUpFails()
    {
        // The same curve, falling faster and faster from step 2500 on, as after a plateau: no power law follows it.
        var clean = SyntheticCurves.Generate(new FslLaw(), Raw, "constant", 1e-3, seed: 5);
        var losses = clean.Steps.Select((k, i) => clean.Losses[i] - (k > 2500 ? 0.5 * Math.Pow((k - 2500) / 3500.0, 2) : 0)).ToList();
        var curve = new ObservedCurve("speeds up", clean.Schedule, clean.Steps, losses);
        var check = Run(curve, 4000);
        Assert.NotNull(check);
        Assert.True(check.Error > 0, "the law should predict too high a loss");
        Assert.False(check.Passes(0.1), $"error {check.Error} on a drop of {check.ObservedDrop}");
    }

    [Fact]
    public void TooEarlyToCheckGivesNull()
    {
        var curve = SyntheticCurves.Generate(new FslLaw(), Raw, "constant", 1e-3, seed: 5);
        Assert.Null(Run(curve, 900)); // t' = 900²/6000 = 135 lies inside the warmup: no points to fit
    }

    [Fact]
    public void NoiseWidensTheAllowance()
    {
        var exact = new Hindcast(100, 400, 1.05, 1.00, 0.2, 0);
        Assert.False(exact.Passes(0.1));                        // 0.05 > 0.1·0.2
        Assert.True(exact with { StandardError = 0.02 } is { } noisy && noisy.Passes(0.1)); // 0.05 ≤ 0.02 + 2·0.02
        Assert.True(exact.Passes(0.3));
    }
}
