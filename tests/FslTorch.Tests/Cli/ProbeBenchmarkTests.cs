using FslTorch.Cli;
using FslTorch.Surrogates;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary><c>fsl bench probe</c>: forecasts from the 124M grid's shortest cooldown taken as a probe of the constant run.</summary>
public sealed class ProbeBenchmarkTests
{
    [SharedDataFact]
    public void TheShortestCooldownIsAProbeOfTheConstantRunAndItsForecastsAreScoredAgainstTheLongerRun()
    {
        const double peak = 2e-3;
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        var constant = runs.Single(r => r.Schedule == "constant" && r.PeakLearningRate == peak);
        var cooldown = runs.Single(r => r.Schedule == "wsd-linear-cd0.1" && r.PeakLearningRate == peak && r.TotalSteps == 15000);
        var probe = ProbeBenchmark.Probe(cooldown, constant);
        Assert.Equal(13500, probe.ForkStep);
        Assert.Equal(1500, probe.LearningRates.Count);
        Assert.Equal(peak, probe.LearningRates[0], 12);
        Assert.True(probe.LearningRates.Zip(probe.LearningRates.Skip(1)).All(p => p.Second < p.First) && probe.LearningRates[^1] < peak / 1000);
        // Its logged losses (every 200 steps, the final evaluation at 15000 left out), NaN in between.
        Assert.Equal(Enumerable.Range(0, 1500).Where(i => (13500 + i) % 200 == 0).ToList(),
            Enumerable.Range(0, 1500).Where(i => double.IsFinite(probe.Losses[i])).ToList());
        // A run that did not branch from the constant one is no probe of it.
        var cosine = runs.Single(r => r.Schedule == "cosine-to10pct" && r.PeakLearningRate == peak && r.TotalSteps == 15000);
        Assert.Throws<InvalidDataException>(() => ProbeBenchmark.Probe(cosine, constant));

        var target = runs.Single(r => r.Schedule == "wsd-linear-cd0.2" && r.PeakLearningRate == peak && r.TotalSteps == 25000);
        var rows = ProbeBenchmark.Replay(constant, probe, target, LossCurveLaws.Default).ToList();
        Assert.Equal([14999L, 19999L], rows.Select(r => r.Step));
        double observed = target.Curve.Losses[target.Curve.Steps.ToList().IndexOf(24800)];
        Assert.All(rows, row =>
        {
            Assert.Equal(observed, row.Observed);
            Assert.Equal(row.Forecast - row.Observed, row.Error, 12);
            // The probe is decay evidence, shorter than the 5000-step cooldown: the forecast takes part of the law's extrapolation.
            Assert.True(row.Unseen > 0, $"unseen {row.Unseen}");
            Assert.InRange(row.Forecast, row.Fitted, row.Fitted + row.Unseen);
            Assert.InRange(row.Error, -0.1, 0.1);
        });
    }
}
