using FslTorch.Cli;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Cli;

public sealed class SchaippDatasetTests
{
    [SharedDataFact]
    public void RebuildsEveryRunsScheduleAndPicksTheProtocolRuns()
    {
        // Load checks the rebuilt LR of every run against every logged LR and throws on a mismatch.
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        Assert.Equal(116, runs.Count); // 117 minus the diverged 5e-3 run
        Assert.All(runs, r => Assert.True(r.Curve.Steps.All(s => s >= r.WarmupSteps && s < r.TotalSteps)));

        var (fit, predict) = SchaippDataset.SchedulesProtocol(runs, 1e-3);
        Assert.Equal(3, fit.Count);
        Assert.Contains("constant-lr0.001-T50000", fit[0].Name);
        Assert.Contains("wsd-linear-cd0.2-lr0.001-T15000", fit[1].Name);
        Assert.Contains("cosine-to10pct-lr0.001-T15000", fit[2].Name);
        Assert.True(fit[2].Steps[^1] < 15000);
        Assert.Equal(runs.Count(r => r.PeakLearningRate == 1e-3) - 3, predict.Count);

        var (fitLow, _) = SchaippDataset.SchedulesProtocol(runs, 1e-4);
        Assert.Contains("wsd-linear-cd0.2-lr0.0001-T25000", fitLow[1].Name);
        Assert.Throws<ArgumentException>(() => SchaippDataset.SchedulesProtocol(runs, 3e-3));
    }
}
