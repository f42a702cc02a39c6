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
    public void AFitThatStartsLateSpansAtLeastTwiceItsFirstStep()
    {
        // The fit starts at step 1000 (points every 40 steps): at t = 2961, t²/N = 1461 would fit 12 points hardly past
        // that start; t' is raised to 2·1001 − 1 = 2001 instead.
        var curve = SyntheticCurves.Generate(new FslLaw(), Raw, "constant", 1e-3, seed: 5).Where(step => step >= 1000);
        var check = Run(curve, 3000);
        Assert.NotNull(check);
        Assert.Equal(2001, check.FittedThrough);
        Assert.Equal(2960, check.CheckedThrough);
        // The drop is measured from the window ending at t' = 2001 (points 1920–2000) to the checked later half of (2001, 2961).
        double Mean(int from, int to) => Enumerable.Range(0, curve.Count).Where(i => curve.Steps[i] > from && curve.Steps[i] <= to).Average(i => curve.Losses[i]);
        Assert.Equal(Mean(2001 - 120, 2001) - Mean(2960 - 480, 2960), check.ObservedDrop, 12);
        // Where t' raised so leaves less than two windows (2 × 120 steps) before t, there is no check yet.
        Assert.Null(Run(curve, 2200)); // t = 2161: 2001 ≥ 2161 − 1 − 240
        // Once t²/N passes the least ratio, t' is t²/N again.
        Assert.Equal(3961L * 3961 / SyntheticCurves.Steps - 1, Run(curve, 4000)!.FittedThrough);
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
