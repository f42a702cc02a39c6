using TinyGpt;
using TinyGptEvidence;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The live-forecast benchmark's scoring: errors, bands, coverage and the targets, on hand-made forecasts.</summary>
public sealed class LiveForecastScoreTests
{
    private static ScoredForecast Made(string corpus, double fraction, double forecast, double lower, double upper, bool calibrated, double finalTraining, string schedule = "controlled", long seed = 1) =>
        new(corpus, schedule, seed, new ForecastCheck(fraction, (long)(fraction * 1000) - 1, forecast, lower, upper, forecast) { Calibrated = calibrated }, finalTraining, finalTraining + 0.02);

    [Fact]
    public void AForecastIsScoredAgainstTheFinalTrainingLossWithItsBand()
    {
        var inside = Made("a", 0.5, 1.10, 1.00, 1.20, calibrated: true, finalTraining: 1.05);
        var outside = Made("a", 0.5, 0.90, 0.88, 0.92, calibrated: true, finalTraining: 1.00);
        Assert.Equal(0.05, inside.Error, 12);
        Assert.Equal(0.03, inside.EvalError, 12);
        Assert.Equal(0.20, inside.BandWidth, 12);
        Assert.True(inside.Covered);
        Assert.Equal(-0.10, outside.Error, 12);
        Assert.False(outside.Covered);
    }

    [Fact]
    public void TheSmoothedScoreComparesTheForecastOfTheSmoothedLossWithTheSmoothedFinalLoss()
    {
        // The run's final training loss is a moving average 0.012 above the loss at its last step; a forecast of that loss
        // that was right looks 0.012 too low against it, and its narrow band misses; moved by the lag, it scores as right.
        var check = new ForecastCheck(0.5, 499, 0.740, 0.735, 0.745, 0.740) { Calibrated = true, SmoothingLag = 0.012 };
        var scored = new ScoredForecast("a", "wsd:0.2", 1, check, 0.752, 0.77);
        Assert.Equal(0.752, check.SmoothedFinalLoss, 12);
        Assert.Equal(-0.012, scored.Error, 12);
        Assert.False(scored.Covered);
        Assert.Equal(0, scored.SmoothedError, 12);
        Assert.True(scored.SmoothedCovered);
        var score = new LiveForecastScore([scored]);
        Assert.Equal(0, score.Overall.MeanAbsSmoothedError, 12);
        Assert.Equal(1, score.Overall.SmoothedCoverage, 12);
        Assert.True(score.SmoothedErrorTargetMet(0.5, LiveForecastScore.Target50));
        Assert.Contains("| 0.0120 | +0.000 |", score.Table(), StringComparison.Ordinal);
    }

    [Fact]
    public void GroupsAveragePerCorpusAndFractionAndKeepCalibratedFiguresApart()
    {
        var score = new LiveForecastScore(
        [
            Made("a", 0.5, 1.01, 0.9, 1.1, calibrated: true, finalTraining: 1.00),
            Made("a", 0.5, 1.50, 0.0, 5.0, calibrated: false, finalTraining: 1.00, seed: 2),
            Made("b", 0.5, 2.01, 1.9, 2.1, calibrated: true, finalTraining: 2.00),
            Made("b", 0.25, 2.30, 2.2, 2.4, calibrated: true, finalTraining: 2.00),
        ]);
        var a50 = score.ByCorpusAndFraction().Single(g => g.Key == ("a", 0.5)).Score;
        Assert.Equal(2, a50.Count);
        Assert.Equal(1, a50.Calibrated);
        Assert.Equal((0.01 + 0.50) / 2, a50.MeanAbsError, 12);
        Assert.Equal(0.01, a50.CalibratedMeanAbsError, 12);
        Assert.Equal(1.0, a50.Coverage, 12);        // the wide "cannot forecast" band holds it too
        // The 50% target holds on calibrated forecasts only; the 25% one fails on corpus b (0.30 > 0.05).
        Assert.False(score.ErrorTargetMet(0.5, LiveForecastScore.Target50, calibratedOnly: false));
        Assert.True(score.ErrorTargetMet(0.5, LiveForecastScore.Target50, calibratedOnly: true));
        Assert.False(score.ErrorTargetMet(0.25, LiveForecastScore.Target25, calibratedOnly: true));
        // 3 of 4 bands hold the outcome: 75%, within 70–90%; of the calibrated ones 2 of 3 (67%): not.
        Assert.Equal(0.75, score.Overall.Coverage, 12);
        Assert.True(score.CoverageTargetMet(calibratedOnly: false));
        Assert.False(score.CoverageTargetMet(calibratedOnly: true));
        string table = score.Table();
        Assert.Contains("| a | controlled | 50% | 2 | 1 |", table, StringComparison.Ordinal);
        Assert.Contains("| b controlled seed 1 | 25% |", table, StringComparison.Ordinal);
    }

    [Fact]
    public void ACorpusWithoutCalibratedForecastsMissesTheCalibratedTarget()
    {
        var score = new LiveForecastScore([Made("a", 0.5, 1.0, 0.0, 5.0, calibrated: false, finalTraining: 1.0)]);
        Assert.True(double.IsNaN(score.Overall.CalibratedCoverage));
        Assert.True(score.ErrorTargetMet(0.5, LiveForecastScore.Target50, calibratedOnly: false));
        Assert.False(score.ErrorTargetMet(0.5, LiveForecastScore.Target50, calibratedOnly: true));
        Assert.False(score.CoverageTargetMet(calibratedOnly: true));
    }
}
