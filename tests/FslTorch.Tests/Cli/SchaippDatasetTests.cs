using FslTorch.Cli;
using FslTorch.Fitting;
using FslTorch.Surrogates;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Cli;

public sealed class SchaippDatasetTests
{
    [SharedDataFact]
    public void RebuildsEveryRunsScheduleAndPicksTheProtocolRuns()
    {
        // Load checks the rebuilt LR of every run against every logged LR and leaves a run out, with a note, on a mismatch:
        // every run of the grid passes, and only the diverged 5e-3 run is left out.
        var notes = new StringWriter();
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"), notes);
        Assert.Equal(116, runs.Count);
        Assert.Equal(["left out schaipp-S124-124M-slimpajama-cosine-final1e-07-lr0.005-T50000.csv: its loss ends at 7.5472, more than 10% above its lowest, 4.8701 (diverged)"],
            notes.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
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

        // The horizon protocol: the constant run and the shortest 20%-cooldown run; the longer ones to predict.
        var (horizonFit, horizonPredict) = SchaippDataset.HorizonProtocol(runs, 5e-4);
        Assert.Equal(2, horizonFit.Count);
        Assert.Contains("constant-lr0.0005-T50000", horizonFit[0].Name);
        Assert.Contains("wsd-linear-cd0.2-lr0.0005-T15000", horizonFit[1].Name);
        Assert.Equal(["T25000", "T35000", "T50000"], horizonPredict.Select(c => c.Name[^6..]));
        var (_, lowPredict) = SchaippDataset.HorizonProtocol(runs, 1e-4);
        Assert.Equal(["T50000"], lowPredict.Select(c => c.Name[^6..]));
        Assert.Equal([1e-4, 5e-4, 1e-3, 2e-3], SchaippDataset.Peaks(runs));
    }

    [SharedDataFact]
    public void BenchAllListsEveryProtocolOfTheSharedData()
    {
        var protocols = AllBenchmark.Protocols(SharedData.PathOf(), TextWriter.Null);
        Assert.Equal(["mpl-25M", "mpl-100M", "transfer-25M-100M", "schedules-0.0001", "horizon-0.0001", "schedules-0.0005", "horizon-0.0005",
            "schedules-0.001", "horizon-0.001", "schedules-0.002", "horizon-0.002"], protocols.Select(p => p.Name));
        // Every protocol fits at least two runs, but the transfer: one short 100M stretch, with the 25M fit as its prior.
        Assert.All(protocols.Where(p => p.Name != "transfer-25M-100M"), p => Assert.True(p.Fit.Count >= 2 && p.Predict.Count >= 1 && p.Prior(LossCurveLaws.Default) == null, p.Name));
        var transfer = protocols.Single(p => p.Name == "transfer-25M-100M");
        Assert.Equal(6, transfer.Predict.Count);
        Assert.True(transfer.Fit.Single().Steps[^1] <= TransferBenchmark.DefaultShortSteps);
        Assert.NotNull(transfer.Prior(LossCurveLaws.Default));
        Assert.Throws<DirectoryNotFoundException>(() => AllBenchmark.Protocols(Path.Combine(Path.GetTempPath(), "no-such-folder-fsl"), TextWriter.Null));
    }

    [SharedDataFact]
    public void AReplayedLrSweepStopsTheHopelessLowLrRunAndChoosesTheBestLr()
    {
        // The 20%-cooldown runs of 25k steps at peak LRs 1e-4, 5e-4, 1e-3, 2e-3 (final loss 3.189, 3.050, 3.038, 3.043):
        // 5e-4 first (middle out), then 1e-3, 1e-4, which ends 0.15 above the best and must stop early, and 2e-3.
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m")).Where(r => r.Schedule == "wsd-linear-cd0.2" && r.TotalSteps == 25000).ToList();
        Assert.Equal(4, runs.Count);
        var result = SweepBenchmark.Replay(runs, margin: 0.02, "middle-out", priorSpread: 0.1, priorOn: null, refitFraction: 0.05);
        Assert.Equal([5e-4, 1e-3, 1e-4, 2e-3], result.Runs.Select(r => r.PeakLearningRate));
        Assert.Equal(1e-3, result.Chosen);
        Assert.Equal(0, result.Regret);
        var low = result.Runs.Single(r => r.PeakLearningRate == 1e-4);
        Assert.NotNull(low.StopReason);
        Assert.True(low.HadPrior);
        Assert.InRange(low.StepsTaken, 1, 20000); // before its cooldown
        Assert.All(result.Runs.Where(r => r.PeakLearningRate != 1e-4), r => Assert.Null(r.StopReason));
        Assert.Equal(result.StepsFull - (25000 - low.StepsTaken), result.StepsTaken);
    }

    [SharedDataFact]
    public void ASideBySideReplayStopsTheHighLrConstantRunsAndKeepsTheBest()
    {
        // The constant runs of 50k steps at peak LRs 1e-4, 5e-4, 1e-3, 2e-3 (final loss 3.130, 3.112, 3.141, 3.194), all
        // advancing together, checked every 5%: 2e-3 and 1e-3 end more than the margin above the best and are stopped
        // once their calibrated bands lie above the lowest calibrated forecast; 1e-4 (0.018 above) and 5e-4 run to the end.
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m")).Where(r => r.Schedule == "constant" && r.TotalSteps == 50000).ToList();
        Assert.Equal(4, runs.Count);
        var result = SweepBenchmark.ReplaySideBySide(runs, margin: 0.02, refitFraction: 0.05, checkEvery: 0.05);
        Assert.Equal([1e-4, 5e-4, 1e-3, 2e-3], result.Runs.Select(r => r.PeakLearningRate));
        Assert.Equal(5e-4, result.Chosen);
        Assert.Equal(0, result.Regret);
        Assert.Equal([false, false, true, true], result.Runs.Select(r => r.StopReason != null));
        var high = result.Runs.Single(r => r.PeakLearningRate == 2e-3);
        Assert.True(high.StepsTaken <= 25000 && high.StepsTaken % 2500 == 0, $"{high.StepsTaken}"); // at a check, in the first half
        Assert.Equal(result.Runs.Sum(r => r.StepsTaken), result.StepsTaken);
        Assert.True(result.StepsTaken < result.StepsFull);
    }

    [SharedDataFact]
    public void AWsdRunOfTheGridTakesTheShortestTenPercentCooldownAtItsPeakAsItsProbeWhenThatEndsBeforeItsOwnDecay()
    {
        var grid = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        SchaippRun Run(string schedule, double peak, int total) => grid.Single(r => r.Schedule == schedule && r.PeakLearningRate == peak && r.TotalSteps == total);
        // 5e-4 at 50k steps, a 20% cooldown from step 40,000: the 15k-step run's 10% cooldown, forked from the constant run.
        var probe = SweepBenchmark.GridProbe(Run("wsd-linear-cd0.2", 5e-4, 50000), grid);
        Assert.NotNull(probe);
        Assert.Equal(13500, probe.ForkStep);
        Assert.Equal(1500, probe.LearningRates.Count);
        Assert.Equal(ProbeBenchmark.Probe(Run("wsd-linear-cd0.1", 5e-4, 15000), Run("constant", 5e-4, 50000)).Losses, probe.Losses);
        // 1e-4 has no 15k-step runs: its shortest 10% cooldown is the 25k-step one's, from step 22,500.
        Assert.Equal(22500, SweepBenchmark.GridProbe(Run("wsd-linear-cd0.2", 1e-4, 50000), grid)!.ForkStep);
        // None for 1e-4's shortest budget (no shorter run), for a decay that begins before the probe would end (a 60%
        // cooldown of 25k steps, from 10,000), or for a cosine, which is no branch of the constant run.
        Assert.Null(SweepBenchmark.GridProbe(Run("wsd-linear-cd0.2", 1e-4, 25000), grid));
        Assert.Null(SweepBenchmark.GridProbe(Run("wsd-linear-cd0.6", 5e-4, 25000), grid));
        Assert.Null(SweepBenchmark.GridProbe(Run("cosine-to10pct", 5e-4, 25000), grid));
    }

    [SharedDataFact]
    public void WithTheGridsProbesASideBySideSweepStopsAHopelessWsdRunBeforeItsCooldown()
    {
        // The 10% cooldowns of 50k steps at 1e-4 and 1e-3 (final loss 3.066 and 2.983), side by side, refitted and checked
        // every 20%: each forks the grid's probe (1e-4 at 22,500, 1e-3 at 13,500), so its forecasts have decay evidence
        // long before its own cooldown (from 45,000), and 1e-4 is stopped at a check after its probe ended. Without a
        // probe no forecast before the cooldown could be calibrated, and none could stop a run there.
        var grid = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        var runs = grid.Where(r => r.Schedule == "wsd-linear-cd0.1" && r.TotalSteps == 50000 && r.PeakLearningRate is 1e-4 or 1e-3).ToList();
        var result = SweepBenchmark.ReplaySideBySide(runs, margin: 0.02, refitFraction: 0.2, checkEvery: 0.2, probeFor: run => SweepBenchmark.GridProbe(run, grid));
        Assert.Equal([22500L, 13500L], result.Runs.Select(r => r.ProbeFork));
        Assert.Equal(1e-3, result.Chosen);
        Assert.Equal(0, result.Regret);
        var low = result.Runs[0];
        Assert.NotNull(low.StopReason);
        Assert.InRange(low.StepsTaken, 25000, 40000); // after its probe ended, before its cooldown
        Assert.True(low.Calibrated > 0);
        Assert.Null(result.Runs[1].StopReason);
    }

    [SharedDataFact]
    public void AnMplFitWhoseBestStartCannotBeEvaluatedFitsFromTheNextStartThatCan()
    {
        // The horizon protocol at peak 1e-4: the best screened start of MPL runs to parameters whose kernel spans more than
        // its 1000 modes over 10× the horizon (the fit used to be reported failed there); the next best start fits.
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        var (fit, predict) = SchaippDataset.HorizonProtocol(runs, 1e-4);
        var result = LawFitter.Fit(new MultiPowerLaw(), fit);
        Assert.True(result.Succeeded, result.Message);
        // Evaluable: the runs it predicts and the extended horizon, finite everywhere.
        foreach (var run in predict) Assert.All(result.Predict(run.Schedule.LearningRates.ToArray(), run.Steps.ToArray()), v => Assert.True(double.IsFinite(v)));
        var longer = Enumerable.Repeat(1e-4, 250_000).Concat(Enumerable.Range(1, 250_000).Select(k => 1e-4 * (1 - k / 250_000.0))).ToArray();
        Assert.True(double.IsFinite(result.Predict(longer, [longer.Length - 1])[0]));
    }

    [SharedDataFact]
    public void ALawThatFreesAParameterStartsFromTheFitOfTheLawItExtends()
    {
        // The horizon protocol at peak 1e-4: with the LR's exponent in the noise free, the multi-start alone ended in
        // C-weighted noise with β ≈ 10⁷ (objective 363.5), while the η² law's optimum, refined with the exponent free,
        // ends at 355.2 (ω 1.77). The fitter now refines that start too, and the lowest objective wins.
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        var (fit, _) = SchaippDataset.HorizonProtocol(runs, 1e-4);
        var omega = new FslDirectLaw(freeNoiseExponent: true);
        var nested = LawFitter.Fit(new FslDirectLaw(), fit);
        var result = LawFitter.Fit(omega, fit);
        var fromNested = LawFitter.Fit(new FitProblem(omega, fit)
        {
            InitialGuess = [.. nested.Parameters, 2.0], WarmStartOnly = true, LearningRateScale = nested.LearningRateScale,
        });
        Assert.True(nested.Succeeded && result.Succeeded && fromNested.Succeeded, nested.Message + result.Message + fromNested.Message);
        Assert.True(result.Objective <= fromNested.Objective * (1 + 1e-9), $"fit {result.Objective}, refined from the η² law's optimum {fromNested.Objective}");
        Assert.True(result.Objective < nested.Objective, $"fit {result.Objective}, η² law {nested.Objective}");
    }
}
