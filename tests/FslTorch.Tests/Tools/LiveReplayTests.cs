using FslTorch.Tests.TestSupport;
using TinyGpt;
using TinyGptEvidence;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The live-forecast replay: a finished run's logs through the monitor, without training.</summary>
public sealed class LiveReplayTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("live-replay-");

    public void Dispose() => _folder.Delete(recursive: true);

    // A finished tiny TinyGpt run with a fixed refit interval (the adaptive one depends on wall time).
    private string TinyRun(string name, params string[] more)
    {
        string text = Path.Combine(_folder.FullName, "text.txt");
        if (!File.Exists(text)) TestProse.Write(text, ["the", "model", "learns", "a", "rate", "of", "loss", "with", "steps", "and", "data", "which", "falls", "slowly"], 300, fullStop: false);
        string run = Path.Combine(_folder.FullName, name);
        var (code, output, error) = BuiltTool.Run("TinyGpt.dll", TimeSpan.FromMinutes(3),
            ["--preset", "tiny", "--layers", "2", "--width", "32", "--context", "32", "--refit-every", "10", "--data", text, "--out", run, .. more]);
        Assert.True(code == 0, output + error);
        return run;
    }

    [Fact]
    public void AReplayAtTheRunsRefitIntervalMakesTheRunsOwnForecasts()
    {
        // A fixed WSD: no decisions to replay.
        string run = TinyRun("run", "--steps", "120", "--schedule", "wsd:0.2");
        var live = RunSummary.Read(Path.Combine(run, "summary.json")).Forecasts;
        Assert.Equal(3, live.Count);

        var replayed = LiveReplay.Forecasts(run, refitInterval: 10);
        Assert.Equal(live.Select(f => (f.Fraction, f.Step, f.Calibrated)), replayed.Select(f => (f.Fraction, f.Step, f.Calibrated)));
        for (int i = 0; i < live.Count; i++)
        {
            Assert.Equal(live[i].FinalLoss, replayed[i].FinalLoss, 9);
            Assert.Equal(live[i].Lower, replayed[i].Lower, 9);
            Assert.Equal(live[i].Upper, replayed[i].Upper, 9);
        }
        // Another interval makes other forecasts (so the comparison above can fail).
        Assert.NotEqual(live.Select(f => f.Step), LiveReplay.Forecasts(run, refitInterval: 20).Select(f => f.Step));

        // At the run's own refit steps (read from its forecasts.jsonl), each fit warm-started from the one before: the same.
        var own = LiveReplay.ForecastsAtTheRunsSteps(run);
        Assert.Equal(live.Select(f => (f.Fraction, f.Step, f.Calibrated)), own.Select(f => (f.Fraction, f.Step, f.Calibrated)));
        for (int i = 0; i < live.Count; i++)
        {
            Assert.Equal(live[i].FinalLoss, own[i].FinalLoss, 9);
            Assert.Equal(live[i].Upper, own[i].Upper, 9);
        }

        // At steps given instead (a refit plan the run did not follow): the forecast in force at each fraction is the last
        // given step's before it, and a fraction with none before it has no forecast.
        var planned = LiveReplay.ForecastsAtSteps(run, [49, 79]);
        Assert.Equal([(0.5, 49L), (0.75, 79L)], planned.Select(f => (f.Fraction, f.Step)));
    }

    [Fact]
    public void ARefitChainThatStuckInTheWorseOptimumIsForecastRightByRefitsThatScreenLongEnough()
    {
        // A default TinyGpt run of this repository (2000 steps, probe at 800) whose refits from the probe on all kept a fit
        // with s at its bound, β ≈ 0.7 and L0 = 0, and forecast 0.998 at step 999 for a final training loss of 0.752. Its
        // losses, refit steps and probe, replayed at those steps as the run made them.
        string run = Path.Combine(_folder.FullName, "default-seed1-controlled");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tinygpt-stuck-refits"), run);
        double final = RunSummary.Read(Path.Combine(run, "summary.json")).FinalTrainingLoss;
        double At50(IReadOnlyList<ForecastCheck> checks) => checks.Single(c => c.Fraction == 0.5).FinalLoss;

        // Screening each start for 25 iterations (a lone fit's default, the refits' before), refining the best screened one
        // alone and drawing no random starts (the fitter's before): the converged warm start wins every screening, and the
        // run's own forecast comes back.
        var stuck = LiveReplay.ForecastsAtTheRunsSteps(run, o => o with { RandomStarts = 0, FitOptions = o.FitOptions with { ScreeningIterations = 25, RefinedStarts = 1 } });
        Assert.Equal(999, stuck.Single(c => c.Fraction == 0.5).Step);
        Assert.InRange(At50(stuck) - final, 0.2, 0.3);
        // Refining the two best screened starts to the end leaves that fit even with the short screening (+0.068 here);
        // the refits' defaults (100 screening iterations, two refined starts) find the better optimum from the same chain.
        var refined = LiveReplay.ForecastsAtTheRunsSteps(run, o => o with { RandomStarts = 0, FitOptions = o.FitOptions with { ScreeningIterations = 25 } });
        Assert.InRange(At50(refined) - final, -0.1, 0.1);
        var fixedChain = LiveReplay.ForecastsAtTheRunsSteps(run);
        Assert.InRange(At50(fixedChain) - final, -0.03, 0.03);
    }

    [Fact]
    public void ARefitWarmStartedFromAStaleFitLeavesItsBasinWithRandomStarts()
    {
        // The main job of the thirty-first session (CPU, 2000 steps, probe at 800): the 1% share spaced its refits at 119,
        // 479 and 879, and the refit at 879, warm-started from the fit of 479, stayed in that fit's basin and forecast 0.070
        // above the final training loss. Replayed at those steps, as the run made them and with the refits' random starts.
        string run = Path.Combine(_folder.FullName, "default-seed1-controlled");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tinygpt-stale-warm-start"), run);
        double final = RunSummary.Read(Path.Combine(run, "summary.json")).FinalTrainingLoss;
        double Error50(IReadOnlyList<ForecastCheck> checks) => checks.Single(c => c.Fraction == 0.5).FinalLoss - final;

        var stale = LiveReplay.ForecastsAtSteps(run, [119, 479, 879], o => o with { RandomStarts = 0 });
        var freed = LiveReplay.ForecastsAtSteps(run, [119, 479, 879]);
        Assert.Equal(879, freed.Single(c => c.Fraction == 0.5).Step);
        Assert.InRange(Error50(stale), 0.05, 0.09);
        Assert.InRange(Error50(freed), -0.02, 0.02);
    }

    [Fact]
    public void ARefitChainThatScreeningDidNotFreeIsFreedByRefiningTwoStarts()
    {
        // A default TinyGpt run on a GPU (2000 steps, probe at 800, refits in the background, twelfth session) whose refits
        // from step 519 on kept a fit with s at its bound and L0 ≈ 0 although every start was screened for 100 iterations:
        // calibrated forecasts 0.2 too high from 40% of the run to 75%. Its losses, refit steps and probe, replayed at those steps.
        string run = Path.Combine(_folder.FullName, "default-seed1-controlled");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tinygpt-gpu-stuck-refits"), run);
        double final = RunSummary.Read(Path.Combine(run, "summary.json")).FinalTrainingLoss;
        double Error(IReadOnlyList<ForecastCheck> checks, double fraction) => checks.Single(c => c.Fraction == fraction).FinalLoss - final;

        var one = LiveReplay.ForecastsAtTheRunsSteps(run, o => o with { RandomStarts = 0, FitOptions = o.FitOptions with { RefinedStarts = 1 } });
        var two = LiveReplay.ForecastsAtTheRunsSteps(run, o => o with { RandomStarts = 0 });
        // Refining the best screened start alone, the run's own forecasts come back (+0.229 and +0.199); refining the two
        // best, the replay forecasts +0.027 and −0.001.
        Assert.InRange(Error(one, 0.5), 0.15, 0.3);
        Assert.InRange(Error(one, 0.75), 0.15, 0.3);
        Assert.InRange(Error(two, 0.5), -0.05, 0.05);
        Assert.InRange(Error(two, 0.75), -0.03, 0.03);
    }

    [Fact]
    public void ARefitThatTheMinimizerEndsJustOutsideTheLawsDomainKeepsTheLastPointInside()
    {
        // A run of this repository's LR sweep (`tinygpt-evidence lrs`: 1000 steps at peak 1e-3, with the last fit of the
        // 4e-3 run as its prior on every parameter). From step 539 on its data push the direct FSL's β to its edge, 1/2,
        // where Levenberg–Marquardt stopped on a tiny step just past it, from every start: every refit failed, and the
        // run, 0.77 above the sweep's threshold, was never stopped. The last point inside along that step is the fit.
        string run = Path.Combine(_folder.FullName, "seed1-lr0.001-abort");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tinygpt-lr-sweep-edge"), run);
        string config = Path.Combine(run, "config.json");
        var settings = RunFolder.ReadConfig(run);
        File.WriteAllText(config, System.Text.Json.JsonSerializer.Serialize(settings with { Prior = Path.Combine(run, "prior.json") }));

        var checks = LiveReplay.ForecastsAtSteps(run, [119, 319, 339, 539, 739]);
        var late = checks.Single(c => c.Fraction == 0.75);
        Assert.Equal(739, late.Step);
        Assert.True(late.Calibrated);
        // The run ended at 2.032 (training); its threshold was 1.272: the forecast's whole band lies above it.
        Assert.InRange(late.FinalLoss, 1.9, 2.2);
        Assert.True(late.Lower > settings.AbortAbove, $"lower band {late.Lower}");
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public void ADecisionReplayMakesTheControlledRunsOwnDecisionsAndAFixedRunWithItsProbeTheSame()
    {
        string controlled = TinyRun("controlled", "--steps", "120", "--schedule", "controlled");
        var live = File.ReadAllLines(Path.Combine(controlled, "decisions.jsonl"))
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement)
            .Select(d => (d.GetProperty("Step").GetInt64(), d.GetProperty("StartNow").GetBoolean(), d.GetProperty("DecayStartStep").GetInt64(), d.GetProperty("Reason").GetString()))
            .ToList();
        Assert.NotEmpty(live);
        static IEnumerable<(long, bool, long, string?)> Of(DecisionReplay replay) =>
            replay.Decisions.Select(d => (d.Step, d.StartNow, d.DecayStartStep, (string?)d.Reason));

        var replay = LiveReplay.Decisions(controlled, refitInterval: 10)!;
        // Up to the first move the replay is the run: the same decisions, and the run's decay start when it moved.
        Assert.Equal(live.Take(replay.Decisions.Count), Of(replay));
        Assert.Equal(replay.Moved ? replay.Decisions[^1].DecayStartStep : 96, replay.DecayStart);
        Assert.Equal((120 - replay.DecayStart) / 120.0, replay.CooldownFraction, 12);
        // Another interval makes other decisions (so the comparison above can fail).
        Assert.NotEqual(Of(replay).Select(d => d.Item1), Of(LiveReplay.Decisions(controlled, refitInterval: 20)!).Select(d => d.Item1));

        // A fixed WSD run with the controlled run's probe has its losses until a move: replayed as if controlled, the same decisions.
        string fixedRun = TinyRun("fixed", "--steps", "120", "--schedule", "wsd:0.2", "--probe-at", "0.4");
        Assert.Equal(Of(replay), Of(LiveReplay.Decisions(fixedRun, refitInterval: 10)!));
    }

    [Fact]
    public void AFixedRunWithoutProbesReplaysWithTheControlledRunsProbeAsIfItHadForkedIt()
    {
        string controlled = TinyRun("controlled", "--steps", "120", "--schedule", "controlled");
        string bare = TinyRun("bare", "--steps", "120", "--schedule", "wsd:0.2", "--no-probes");
        string probed = TinyRun("probed", "--steps", "120", "--schedule", "wsd:0.2");
        var own = LiveReplay.Forecasts(probed, refitInterval: 10);
        var borrowed = LiveReplay.Forecasts(bare, refitInterval: 10, probesFrom: controlled);
        Assert.Equal(own.Select(f => (f.Fraction, f.Step, f.Calibrated)), borrowed.Select(f => (f.Fraction, f.Step, f.Calibrated)));
        for (int i = 0; i < own.Count; i++)
        {
            Assert.Equal(own[i].FinalLoss, borrowed[i].FinalLoss, 9);
            Assert.Equal(own[i].Upper, borrowed[i].Upper, 9);
        }
        // Without them the forecast after the probe is another (so the comparison above can fail).
        Assert.NotEqual(own[^1].FinalLoss, LiveReplay.Forecasts(bare, refitInterval: 10)[^1].FinalLoss);

        // Not from a run whose losses before the fork differ, nor into a run with probes of its own.
        string cosine = TinyRun("cosine", "--steps", "120", "--schedule", "cosine");
        Assert.Contains("are not those of", Assert.Throws<InvalidDataException>(() => LiveReplay.BorrowedProbes(cosine, controlled)).Message);
        Assert.Contains("probes of its own", Assert.Throws<InvalidDataException>(() => LiveReplay.BorrowedProbes(probed, controlled)).Message);
    }

    [Fact]
    public void ARunWhoseProbesWereLostWithItsCheckpointIsNotReplayedAsIfItHadNone()
    {
        string run = TinyRun("probed", "--steps", "100", "--probe-at", "0.2", "0.4");
        var all = LiveReplay.Forecasts(run, refitInterval: 10);
        Assert.NotEmpty(all);
        // A replay may keep some of the probes only (to compare probe plans on the same runs): other forecasts after them.
        var first = LiveReplay.Forecasts(run, refitInterval: 10, probeFractions: [0.2]);
        Assert.Equal(all.Select(f => f.Step), first.Select(f => f.Step));
        Assert.NotEqual(all[^1].FinalLoss, first[^1].FinalLoss);

        Directory.Delete(Path.Combine(run, "checkpoint"), recursive: true);
        var refused = Assert.Throws<InvalidDataException>(() => LiveReplay.Forecasts(run, refitInterval: 10));
        Assert.Contains("made cooldown probes", refused.Message);
    }
}
