using FslTorch.Control;
using Xunit;

namespace FslTorch.Tests.Control;

/// <summary>A sweep whose runs advance together: which runs it stops, and from what.</summary>
public sealed class SideBySideSweepTests
{
    private static ForecastRecord Forecast(long step, double final, double halfWidth, bool calibrated = true) =>
        new(step, final, final - halfWidth, final + halfWidth, calibrated, HasDecayEvidence: true, HorizonStep: 999, HorizonLoss: final);

    [Fact]
    public void AHopelessRunIsStoppedAndTheLeaderAndARunWithinTheMarginAreKept()
    {
        var sweep = new SideBySideSweep<double>(margin: 0.05);
        sweep.Report(1e-3, Forecast(499, 1.60, 0.10)); // lower edge 1.50: 0.30 above the leader plus the margin
        sweep.Report(3e-3, Forecast(499, 1.20, 0.10)); // the leader
        sweep.Report(1e-2, Forecast(499, 1.30, 0.06)); // lower edge 1.24: within the margin of 1.20
        Assert.Equal(1.20, sweep.Best);
        Assert.Equal([1e-3], sweep.Check());
        Assert.Contains("above the sweep's best 1.2000", sweep.Stopped[1e-3]);
        // Stopped once: a later report of it is ignored, and the same reports stop nothing more.
        sweep.Report(1e-3, Forecast(549, 1.00, 0.01));
        Assert.Empty(sweep.Check());
        Assert.Equal(1.20, sweep.Best);
        // The leader falls behind: the former runner-up now stops it once its band clears the margin.
        sweep.Report(3e-3, Forecast(549, 1.45, 0.05));
        sweep.Report(1e-2, Forecast(549, 1.25, 0.05));
        Assert.Equal([3e-3], sweep.Check());
        Assert.Equal(2, sweep.Stopped.Count);
    }

    [Fact]
    public void UncalibratedForecastsNeitherStopARunNorSetTheBar()
    {
        var sweep = new SideBySideSweep<string>(margin: 0.02);
        sweep.Report("hopeless", Forecast(300, 3.0, 0.1, calibrated: false));
        sweep.Report("confident", Forecast(300, 1.0, 0.05, calibrated: false));
        Assert.Null(sweep.Best);
        Assert.Empty(sweep.Check());
        // One calibrated forecast sets the bar; only calibrated runs are stopped by it.
        sweep.Report("middle", Forecast(350, 2.0, 0.05));
        Assert.Empty(sweep.Check()); // its own band holds its forecast
        sweep.Report("hopeless", Forecast(400, 3.0, 0.1));
        Assert.Equal(["hopeless"], sweep.Check());
    }

    [Fact]
    public void AFinishedRunsFinalLossIsTheBar()
    {
        var sweep = new SideBySideSweep<int>(margin: 0.05);
        sweep.Finish(1, 1.00);
        sweep.Report(2, Forecast(600, 1.10, 0.04)); // lower edge 1.06: above 1.05
        sweep.Report(3, Forecast(600, 1.08, 0.04)); // lower edge 1.04: kept
        Assert.Equal([2], sweep.Check());
        sweep.Report(1, Forecast(700, 9.0, 0.1)); // a finished run's reports are ignored
        Assert.Equal(1.00, sweep.Best);
        Assert.Throws<InvalidOperationException>(() => sweep.Finish(2, 1.2));
        Assert.Throws<ArgumentOutOfRangeException>(() => sweep.Finish(3, double.NaN));
    }

    [Theory]
    [InlineData(-0.01)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void AMarginNoSweepCanUseIsRefusedAtConstruction(double margin) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SideBySideSweep<double>(margin));

    [Fact]
    public void ChecksComeAtTheEndOfEachStretchOfTheBudgetAndNeverAtItsLastStep()
    {
        Assert.Equal(Enumerable.Range(1, 19).Select(i => 50L * i - 1), SideBySideSweep<int>.CheckSteps(1000, 0.05));
        Assert.Equal([332L, 666L], SideBySideSweep<int>.CheckSteps(1000, 1.0 / 3));
        Assert.Equal(49, SideBySideSweep<int>.CheckSteps(2000, 0.02).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => SideBySideSweep<int>.CheckSteps(1000, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SideBySideSweep<int>.CheckSteps(1000, 0.6));
        Assert.Throws<ArgumentOutOfRangeException>(() => SideBySideSweep<int>.CheckSteps(1, 0.05));
    }
}
