using System.Text.Json;
using FslTorch.Tests.TestSupport;
using TinyGpt;
using TinyGptEvidence;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The LR sweep with early abort: its accounting, and the runner end to end on a tiny configuration.</summary>
public sealed class LrSweepTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("lrs-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static RunSummary Summary(double eval, long stepsRun = 1000, string? aborted = null) =>
        new("wsd:0.2", 1000, 1000, eval, eval + 0.05, 800, null, [], 60) { StepsRun = stepsRun, AbortReason = aborted };

    [Fact]
    public void AnAbortedRunSavesItsStepsAndIsNeverChosen()
    {
        double[] lrs = [1e-3, 3e-3, 1e-2];
        // The full sweep: 3e-3 is best. The aborting sweep stopped the hopeless 1e-2 after 300 steps.
        var full = new[] { Summary(1.50), Summary(1.40), Summary(1.90) };
        var aborting = new[] { full[0], full[1], Summary(2.10, stepsRun: 300, aborted: "forecast above 1.50") };
        var result = LrSweepCommand.Score(1, lrs, full, aborting);
        Assert.Equal(3e-3, result.Chosen);
        Assert.Equal(3e-3, result.Best);
        Assert.Equal(0, result.Regret, 12);
        Assert.Equal(2300, result.StepsUsed);
        Assert.Equal(3000, result.StepsFull);
        Assert.Equal(300, result.Runs[2].StepsTaken);
        // A perfect abort stops at once every run that ended more than the margin above the best (training losses 1.55, 1.45, 1.95).
        Assert.Equal(2.0 / 3, LrSweepCommand.PerfectSaving([result], margin: 0.05), 12);
        Assert.Equal(1.0 / 3, LrSweepCommand.PerfectSaving([result], margin: 0.2), 12);

        // A winner aborted by mistake costs regret: the sweep keeps the best it finished.
        var wrong = new[] { full[0], Summary(1.60, stepsRun: 400, aborted: "forecast above 1.55"), full[2] };
        var missed = LrSweepCommand.Score(1, lrs, full, wrong);
        Assert.Equal(1e-3, missed.Chosen);
        Assert.Equal(0.10, missed.Regret, 12);
        Assert.Throws<ArgumentException>(() => LrSweepCommand.Score(1, lrs, full, [Summary(1, aborted: "x"), Summary(1, aborted: "x"), Summary(1, aborted: "x")]));
    }

    [Fact]
    public void TheSweepRunsEveryLrAndReportsWhatItChoseAndUsed()
    {
        string output = Path.Combine(_folder.FullName, "sweep"), text = Path.Combine(_folder.FullName, "text.txt");
        TestProse.Write(text, ["a", "rate", "of", "loss", "falls", "over", "time", "while", "the", "model", "learns"], 300);
        var (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(5),
            ["lrs", "--out", output, "--lrs", "2e-3", "6e-3", "--seeds", "1", "--steps", "100", "--preset", "tiny", "--width", "16", "--data", text]);
        Assert.True(code == 0, stdout + error);
        Assert.True(File.Exists(Path.Combine(output, "seed1-lr0.002-full", "summary.json")));
        Assert.True(File.Exists(Path.Combine(output, "seed1-lr0.006-abort", "summary.json")));
        // The second run of the aborting sweep had the first one's final training loss plus the margin to beat.
        var first = RunSummary.Read(Path.Combine(output, "seed1-lr0.002-full", "summary.json"));
        var config = RunFolder.ReadConfig(Path.Combine(output, "seed1-lr0.006-abort"));
        Assert.Equal(first.FinalTrainingLoss + 0.05, config.AbortAbove!.Value, 9);
        // ...and its last fit as the prior, on every parameter of the law but its level.
        string fit = Path.Combine(output, "seed1-lr0.002-full", "fit.json");
        Assert.True(File.Exists(fit));
        Assert.Equal(Path.GetFullPath(fit), Path.GetFullPath(config.Prior!));
        Assert.Equal(["C", "tau", "s", "beta", "D"], config.PriorOn!);
        Assert.Equal(FslTorch.Control.EarlyAbortSweep.DefaultPriorSpread, config.PriorSpread);
        // ...and the errors of that run's forecasts widen its abort band (--abort-reference).
        Assert.Equal(Path.GetFullPath(Path.Combine(output, "seed1-lr0.002-full")), Path.GetFullPath(config.AbortReference!));
        Assert.NotEmpty(RunFolder.ForecastErrors(config.AbortReference!));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "lrs.json")));
        var sweep = report.RootElement.GetProperty("sweeps")[0];
        Assert.Equal(200, sweep.GetProperty("StepsFull").GetInt64());
        Assert.InRange(sweep.GetProperty("StepsUsed").GetInt64(), 101, 200);
        Assert.Contains(sweep.GetProperty("Chosen").GetDouble(), new[] { 2e-3, 6e-3 });
        Assert.True(sweep.GetProperty("Regret").GetDouble() >= 0);
        Assert.Contains("LR chosen", File.ReadAllText(Path.Combine(output, "lrs.md")));

        // The same LRs side by side, replayed from the full runs (no training: they are reused).
        var sideBySide = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(5),
            ["lrs", "--out", output, "--lrs", "2e-3", "6e-3", "--seeds", "1", "--steps", "100", "--preset", "tiny", "--width", "16", "--data", text,
             "--side-by-side", "--check-every", "0.1"]);
        Assert.True(sideBySide.ExitCode == 0, sideBySide.Output + sideBySide.Error);
        Assert.Contains("done earlier", sideBySide.Output);
        using var together = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "lrs-side-by-side.json")));
        var replayed = together.RootElement.GetProperty("sweeps")[0];
        var runs = replayed.GetProperty("Runs").EnumerateArray().ToList();
        Assert.Equal(200, replayed.GetProperty("StepsFull").GetInt64());
        Assert.Equal(runs.Sum(r => r.GetProperty("StepsTaken").GetInt64()), replayed.GetProperty("StepsUsed").GetInt64());
        // A run the sweep stopped says why, and is never the one chosen; at most one of the two can be stopped.
        var stopped = runs.Where(r => r.GetProperty("AbortReason").ValueKind == JsonValueKind.String).ToList();
        Assert.True(stopped.Count <= 1);
        Assert.All(stopped, r => Assert.Contains("above the sweep's best", r.GetProperty("AbortReason").GetString()));
        Assert.All(stopped, r => Assert.NotEqual(replayed.GetProperty("Chosen").GetDouble(), r.GetProperty("LearningRate").GetDouble()));
        Assert.Contains("side by side", File.ReadAllText(Path.Combine(output, "lrs-side-by-side.md")));
        var refused = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), ["lrs", "--out", output, "--check-every", "0.1"]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--check-every goes with --side-by-side", refused.Error);

        // The same sweep run live: each LR's run trains to each check in turn and resumes from its checkpoint.
        var live = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(5),
            ["lrs", "--out", output, "--lrs", "2e-3", "6e-3", "--seeds", "1", "--steps", "100", "--preset", "tiny", "--width", "16", "--data", text,
             "--side-by-side", "--live", "--check-every", "0.5"]);
        Assert.True(live.ExitCode == 0, live.Output + live.Error);
        Assert.Contains("--resume", live.Output);
        using var liveReport = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "lrs-side-by-side-live.json")));
        var liveSweep = liveReport.RootElement.GetProperty("sweeps")[0];
        var liveRuns = liveSweep.GetProperty("Runs").EnumerateArray().ToList();
        Assert.Equal(liveRuns.Sum(r => r.GetProperty("StepsTaken").GetInt64()), liveSweep.GetProperty("StepsUsed").GetInt64());
        Assert.True(liveRuns.Count(r => r.GetProperty("AbortReason").ValueKind == JsonValueKind.String) <= 1);
        foreach (var run in liveRuns)
        {
            string name = $"seed1-lr{run.GetProperty("LearningRate").GetDouble().ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}";
            string runFolder = Path.Combine(output, $"{name}-together");
            long taken = run.GetProperty("StepsTaken").GetInt64();
            // Stopped at a check and never resumed, or trained to the end: its losses are the full run's, step for step.
            var fullLosses = File.ReadLines(Path.Combine(output, $"{name}-full", "losses.csv")).Select(l => string.Join(',', l.Split(',').Take(3))).Take((int)taken + 1);
            Assert.Equal(fullLosses, File.ReadLines(Path.Combine(runFolder, "losses.csv")).Select(l => string.Join(',', l.Split(',').Take(3))));
            bool halted = run.GetProperty("AbortReason").ValueKind == JsonValueKind.String;
            Assert.Equal(!halted, File.Exists(Path.Combine(runFolder, "summary.json")));
            Assert.Equal(halted ? 50 : 100, taken);
            // Its refits came at the checks (every 50 steps).
            Assert.All(new RunFolder(runFolder).ForecastRecords(100), f => Assert.Equal(0, (f.Step + 1) % 50));
        }
        var alone = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), ["lrs", "--out", output, "--live"]);
        Assert.NotEqual(0, alone.ExitCode);
        Assert.Contains("--live goes with --side-by-side", alone.Error);
        var replayedProbes = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), ["lrs", "--out", output, "--side-by-side", "--probe-at", "0.2"]);
        Assert.NotEqual(0, replayedProbes.ExitCode);
        Assert.Contains("a side-by-side replay has the full runs' own probes", replayedProbes.Error);
    }
}
