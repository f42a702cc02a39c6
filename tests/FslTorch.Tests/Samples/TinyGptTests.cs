using System.Globalization;
using System.Text.Json;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Samples;

/// <summary>The TinyGpt sample, run as a user runs it (a separate process), at a tiny size.</summary>
public sealed class TinyGptTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tinygpt-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string TextFile()
    {
        // A small text the test writes itself: 400 short paragraphs of varied English-like prose.
        string path = Path.Combine(_folder.FullName, "text.txt");
        TestProse.Write(path, ["the", "model", "learns", "a", "rate", "of", "loss", "with", "steps", "and", "data", "which", "falls", "slowly", "over", "time", "while", "warm", "decay", "stable"], 400);
        return path;
    }

    private static (int Code, string Output) Run(params string[] arguments)
    {
        var (code, output, error) = BuiltTool.Run("TinyGpt.dll", TimeSpan.FromMinutes(3), arguments);
        return (code, output + error);
    }

    private string[] Tiny(string output, params string[] more) =>
        // A fixed refit interval: the default one adapts to measured wall time, which tests must not depend on.
        ["--preset", "tiny", "--layers", "2", "--width", "32", "--context", "32", "--steps", "100", "--refit-every", "10", "--data", TextFile(), "--out", output, .. more];

    private static List<(long Step, double Lr, double Loss)> Losses(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "losses.csv")).Skip(1).Select(l => l.Split(','))
            .Select(c => (long.Parse(c[0], CultureInfo.InvariantCulture), double.Parse(c[1], CultureInfo.InvariantCulture), double.Parse(c[2], CultureInfo.InvariantCulture))).ToList();

    [Fact]
    public void CooldownProbesLeaveTheRunBitIdenticalAndGiveDecayEvidence()
    {
        string probed = Path.Combine(_folder.FullName, "probed"), plain = Path.Combine(_folder.FullName, "plain");
        var (code, output) = Run(Tiny(probed, "--probe-at", "0.3", "0.5", "--probe-fraction", "0.1"));
        Assert.True(code == 0, output);
        Assert.Contains("cooldown probe at step 30: 10 steps", output);
        Assert.Contains("cooldown probe at step 50: 10 steps", output);
        (code, output) = Run(Tiny(plain, "--no-probes"));
        Assert.True(code == 0, output);
        Assert.DoesNotContain("cooldown probe", output);

        // Every step of the run took the same learning rate and saw the same loss, to the bit.
        Assert.Equal(Losses(plain), Losses(probed));
        Assert.Equal(20, RunSummary(probed).GetProperty("ProbeSteps").GetInt64());
        Assert.Equal(0, RunSummary(plain).GetProperty("ProbeSteps").GetInt64());
        // The probes are decay evidence: forecasts after them say so; without them none does.
        bool Evidence(string folder) => File.ReadAllLines(Path.Combine(folder, "forecasts.jsonl"))
            .Any(l => JsonDocument.Parse(l).RootElement.GetProperty("decay_evidence").GetBoolean() && JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64() < 80);
        Assert.True(Evidence(probed), "no forecast after the probes had decay evidence");
        Assert.False(Evidence(plain));
    }

    [Fact]
    public void TrainsWritesItsRunFolderAndResumesIdentically()
    {
        string whole = Path.Combine(_folder.FullName, "whole");
        var (code, output) = Run(Tiny(whole));
        Assert.True(code == 0, output);
        Assert.Contains("the decay started at step", output);

        // The loss went down.
        var losses = Losses(whole);
        Assert.Equal(100, losses.Count);
        Assert.True(losses.TakeLast(10).Average(l => l.Loss) < losses.Take(10).Average(l => l.Loss) - 1, "the loss did not go down");

        // The run folder holds valid files.
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(whole, "config.json"))).RootElement;
        Assert.Equal(100, config.GetProperty("Steps").GetInt64());
        var forecasts = File.ReadAllLines(Path.Combine(whole, "forecasts.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(forecasts);
        Assert.All(forecasts, f => Assert.True(double.IsFinite(f.GetProperty("final_loss").GetDouble())));
        foreach (var line in File.ReadAllLines(Path.Combine(whole, "decisions.jsonl"))) JsonDocument.Parse(line);
        var summary = RunSummary(whole);
        Assert.True(double.IsFinite(summary.GetProperty("FinalEvalLoss").GetDouble()));
        Assert.Equal([0.25, 0.5, 0.75], summary.GetProperty("Forecasts").EnumerateArray().Select(f => f.GetProperty("Fraction").GetDouble()));
        foreach (var name in new[] { "model.bin", "optimizer.bin", "scheduler.json", "monitor.json", "progress.json" })
        {
            Assert.True(File.Exists(Path.Combine(whole, "checkpoint", "latest", name)), name);
        }
        // TensorBoard events: the loss every step (100 steps: every = 1) and every forecast, readable back.
        var scalars = FslTorch.Tests.Control.TensorBoardCallbackTests.ReadScalars(Path.Combine(whole, "tensorboard"));
        Assert.Equal(100, scalars.Count(s => s.Tag == "train/loss"));
        Assert.Equal(forecasts.Count, scalars.Count(s => s.Tag == "forecast/final_loss"));
        Assert.Contains(scalars, s => s.Tag == "schedule/decay_start");
        foreach (var png in new[] { "loss.png", "lr.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(whole, png));
            Assert.True(bytes.Length > 2000, $"{png} is {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }

        // Interrupted at step 60 and resumed: the identical LR and loss sequence, and the same decisions.
        string resumed = Path.Combine(_folder.FullName, "resumed");
        (code, output) = Run(Tiny(resumed, "--stop-at", "60"));
        Assert.True(code == 0, output);
        Assert.Equal(60, Losses(resumed).Count);
        (code, output) = Run("--resume", resumed);
        Assert.True(code == 0, output);
        Assert.Equal(losses, Losses(resumed));
        Assert.Equal(File.ReadAllText(Path.Combine(whole, "decisions.jsonl")), File.ReadAllText(Path.Combine(resumed, "decisions.jsonl")));
    }

    [Fact]
    public void ABranchedRunEqualsAFullRunWithTheSameSchedule()
    {
        // The constant run keeps a checkpoint after 70 steps; a WSD with a 30% cooldown branches from it there.
        string constant = Path.Combine(_folder.FullName, "constant");
        var (code, output) = Run(Tiny(constant, "--schedule", "constant", "--checkpoint-at", "70"));
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(constant, "checkpoint", "step-70", "model.bin")));
        string branched = Path.Combine(_folder.FullName, "branched");
        (code, output) = Run("--branch-from", constant, "--branch-step", "70", "--schedule", "wsd:0.3", "--out", branched);
        Assert.True(code == 0, output);
        Assert.Contains("branching at step 70", output);

        string full = Path.Combine(_folder.FullName, "full");
        (code, output) = Run(Tiny(full, "--schedule", "wsd:0.3"));
        Assert.True(code == 0, output);

        // Identical steps, LRs, training and evaluation losses; the LR really decays in the branch.
        Assert.Equal(File.ReadAllText(Path.Combine(full, "losses.csv")), File.ReadAllText(Path.Combine(branched, "losses.csv")));
        var losses = Losses(branched);
        Assert.Equal(100, losses.Count);
        Assert.True(losses[99].Lr < losses[69].Lr / 10, "the branch did not decay");
        Assert.Equal(RunSummary(full).GetProperty("FinalEvalLoss").GetDouble(), RunSummary(branched).GetProperty("FinalEvalLoss").GetDouble());
        Assert.Equal(70, RunSummary(branched).GetProperty("DecayStartStep").GetInt64());

        // A controlled branch, interrupted and resumed, continues identically.
        string controlled = Path.Combine(_folder.FullName, "controlled"), interrupted = Path.Combine(_folder.FullName, "interrupted");
        (code, output) = Run("--branch-from", constant, "--branch-step", "70", "--schedule", "controlled", "--out", controlled);
        Assert.True(code == 0, output);
        (code, output) = Run("--branch-from", constant, "--branch-step", "70", "--schedule", "controlled", "--out", interrupted, "--stop-at", "85");
        Assert.True(code == 0, output);
        (code, output) = Run("--resume", interrupted);
        Assert.True(code == 0, output);
        Assert.Equal(File.ReadAllText(Path.Combine(controlled, "losses.csv")), File.ReadAllText(Path.Combine(interrupted, "losses.csv")));

        // A branch whose schedule differs before the branch point is refused: it could not equal a full run.
        (code, output) = Run("--branch-from", constant, "--branch-step", "70", "--schedule", "wsd:0.5", "--out", Path.Combine(_folder.FullName, "bad"));
        Assert.Equal(2, code);
        Assert.Contains("must share the schedule", output);
        (code, output) = Run("--branch-from", constant, "--branch-step", "50", "--schedule", "wsd:0.3", "--out", Path.Combine(_folder.FullName, "bad2"));
        Assert.Equal(2, code);
        Assert.Contains("--checkpoint-at 50", output);
        // A branch keeps its parent's prior and the parameters it holds: --prior-on alone would silently not apply.
        (code, output) = Run("--branch-from", constant, "--branch-step", "70", "--schedule", "wsd:0.3", "--prior-on", "C", "--out", Path.Combine(_folder.FullName, "bad3"));
        Assert.Equal(2, code);
        Assert.Contains("--prior-on goes with --prior", output);
        Assert.False(Directory.Exists(Path.Combine(_folder.FullName, "bad3")));
    }

    [Fact]
    public void TrainsOnCl100kTokens()
    {
        // Words in a fixed cycle, each paragraph starting elsewhere: every next word is learnable from the last.
        string[] words = ["the", "model", "learns", "a", "rate", "of", "loss", "with", "steps", "and", "data", "which", "falls", "slowly", "over", "time"];
        var paragraphs = Enumerable.Range(0, 400).Select(p => string.Join(' ', Enumerable.Range(p, 40).Select(i => words[i % words.Length])) + ".");
        string text = Path.Combine(_folder.FullName, "cycle.txt");
        File.WriteAllText(text, string.Join("\n\n", paragraphs));
        string folder = Path.Combine(_folder.FullName, "cl100k");
        var (code, output) = Run("--preset", "tiny", "--layers", "2", "--width", "32", "--context", "32", "--steps", "100", "--data", text, "--out", folder, "--tokenizer", "cl100k");
        Assert.True(code == 0, output);
        Assert.Contains("(cl100k, vocabulary ", output);
        var losses = Losses(folder);
        Assert.True(losses.TakeLast(10).Average(l => l.Loss) < losses.Take(10).Average(l => l.Loss) - 1, "the loss did not go down");
        Assert.Equal("cl100k", JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).RootElement.GetProperty("Tokenizer").GetString());
    }

    private static JsonElement RunSummary(string folder) => JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json"))).RootElement;

    [Fact]
    public void AFixedWsdRunObeysADecisionFile()
    {
        // fsl watch's decision file says: decay from step 60 (the plan, wsd:0.2 of 100 steps, decays from 80).
        string decisions = Path.Combine(_folder.FullName, "decisions.json");
        File.WriteAllText(decisions, "{\"step\": 40, \"decay_start_step\": 60, \"stop\": false}");
        string steered = Path.Combine(_folder.FullName, "steered");
        var (code, output) = Run(Tiny(steered, "--schedule", "wsd:0.2", "--decisions-from", decisions));
        Assert.True(code == 0, output);
        Assert.Contains("decay start moved to step 60", output);
        var losses = Losses(steered);
        double peak = losses[50].Lr;
        Assert.Equal(peak, losses[60].Lr); // step D still uses the peak
        Assert.True(losses[61].Lr < peak && losses[70].Lr < losses[61].Lr, "the decay did not start at 60");
        Assert.Equal(60, RunSummary(steered).GetProperty("DecayStartStep").GetInt64());
        Assert.Contains("moved from step 80 by", output); // the summary says who moved the decay

        // A start the run has already passed (a watcher that decided "now" while the run went on) starts the decay at once.
        File.WriteAllText(decisions, "{\"step\": 2, \"decay_start_step\": 3, \"stop\": false}");
        string late = Path.Combine(_folder.FullName, "late");
        (code, output) = Run(Tiny(late, "--schedule", "wsd:0.2", "--decisions-from", decisions));
        Assert.True(code == 0, output);
        Assert.Contains("decay start moved to step 5 by", output); // the file is read after step 4
        Assert.Contains("(it said 3, already past)", output);
        Assert.Equal(5, RunSummary(late).GetProperty("DecayStartStep").GetInt64());

        // A stop in the file ends the run (resumable).
        File.WriteAllText(decisions, "{\"step\": 40, \"decay_start_step\": 80, \"stop\": true}");
        string stopped = Path.Combine(_folder.FullName, "stopped");
        (code, output) = Run(Tiny(stopped, "--schedule", "wsd:0.2", "--decisions-from", decisions));
        Assert.True(code == 0, output);
        Assert.Equal(5, Losses(stopped).Count); // the file is read every 5 steps
        Assert.Contains("resume with --resume", output);

        (code, output) = Run(Tiny(Path.Combine(_folder.FullName, "refused"), "--decisions-from", decisions));
        Assert.Equal(2, code);
        Assert.Contains("--decisions-from steers a fixed WSD run", output);
    }

    [Fact]
    public void AFixedScheduleRunForksAProbeWhenItsOwnDecayLiesAheadAndKeepsItsSchedule()
    {
        string probed = Path.Combine(_folder.FullName, "probed"), plain = Path.Combine(_folder.FullName, "plain");
        var (code, output) = Run(Tiny(probed, "--schedule", "wsd:0.2", "--probe-fraction", "0.1"));
        Assert.True(code == 0, output);
        Assert.Contains("cooldown probe at step 40: 10 steps", output);
        (code, output) = Run(Tiny(plain, "--schedule", "wsd:0.2", "--no-probes"));
        Assert.True(code == 0, output);
        Assert.DoesNotContain("cooldown probe", output);
        // The same learning rate and loss at every step: the probe left the run, and its schedule, as they were.
        Assert.Equal(Losses(plain), Losses(probed));
        Assert.Equal(10, RunSummary(probed).GetProperty("ProbeSteps").GetInt64());
    }

    [Fact]
    public void AFixedScheduleForksOnlyTheProbesAfterWhichItsOwnDecayBegins()
    {
        IReadOnlyList<long> Forks(string schedule, double[]? at = null, bool asked = false, string? prior = null) =>
            new TinyGpt.Settings { Steps = 1000, Schedule = schedule, ProbeAt = at ?? [0.4], ProbesInFixedRuns = asked, Prior = prior }.ProbeSteps();
        Assert.Equal([400L], Forks("controlled"));
        Assert.Equal([400L], Forks("wsd:0.2")); // the decay begins at 800, after the probe's 40 steps
        Assert.Equal([400L], Forks("wsd:0.55")); // at 450: just after the probe's last step, 439
        Assert.Empty(Forks("wsd:0.58")); // at 420: during the probe, so the run's own decay shows the response
        Assert.Empty(Forks("wsd:0.7"));
        Assert.Empty(Forks("cosine")); // decaying since the warmup
        Assert.Empty(Forks("constant")); // no decay to forecast
        Assert.Equal([200L], Forks("wsd:0.5", [0.2, 0.5])); // the one at 0.5 forks where the decay begins
        Assert.Equal([400L], Forks("cosine", asked: true)); // an explicit --probe-at forks anywhere
        Assert.Empty(Forks("wsd:0.2", prior: "prior.json")); // a measured prior is decay evidence already
    }

    [Fact]
    public void TheWarmupIsAHundredStepsOrATenthOfAShorterRunUnlessAFractionIsGiven()
    {
        long Warmup(params string[] flags)
        {
            string folder = Path.Combine(_folder.FullName, $"warmup{Guid.NewGuid():N}");
            var (code, output) = Run(["--width", "16", "--heads", "2", "--context", "16", "--batch", "2", "--data", TextFile(), "--out", folder, "--stop-at", "1", .. flags]);
            Assert.True(code == 0, output);
            return TinyGpt.RunSchedule.WarmupSteps(TinyGpt.RunFolder.ReadConfig(folder));
        }
        Assert.Equal(100, Warmup("--steps", "2000"));
        Assert.Equal(100, Warmup("--steps", "5000"));
        Assert.Equal(30, Warmup("--steps", "300"));
        Assert.Equal(500, Warmup("--steps", "5000", "--warmup", "0.1"));
        Assert.Equal(40, Warmup("--steps", "300", "--warmup-steps", "40"));
        var (code, output) = Run(["--steps", "300", "--warmup", "0.1", "--warmup-steps", "40", "--data", TextFile(), "--out", Path.Combine(_folder.FullName, "both")]);
        Assert.Equal(2, code);
        Assert.Contains("exclude each other", output);
    }

    [Fact]
    public void TheGradientClipReachesTheOptimiser()
    {
        string clipped = Path.Combine(_folder.FullName, "clipped"), normal = Path.Combine(_folder.FullName, "normal");
        var (code, output) = Run(Tiny(normal, "--schedule", "constant", "--no-probes"));
        Assert.True(code == 0, output);
        // Clipped to a norm far below AdamW's epsilon, the updates almost vanish: the loss hardly moves.
        (code, output) = Run(Tiny(clipped, "--schedule", "constant", "--no-probes", "--clip", "1e-9"));
        Assert.True(code == 0, output);
        double Drop(string folder) => Losses(folder).Take(10).Average(l => l.Loss) - Losses(folder).TakeLast(10).Average(l => l.Loss);
        Assert.True(Drop(normal) > 0.3, $"the unclipped run fell by {Drop(normal):F3} only");
        Assert.True(Drop(clipped) < Drop(normal) / 3, $"clipped {Drop(clipped):F3}, unclipped {Drop(normal):F3}");
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(clipped, "config.json"))).RootElement;
        Assert.Equal(1e-9, config.GetProperty("GradientClip").GetDouble());
        Assert.Equal(0.99, config.GetProperty("Beta2").GetDouble());
    }

    [Fact]
    public void BadDataGivesAClearMessageAndExitCodeTwo()
    {
        var (code, output) = Run("--preset", "tiny", "--data", Path.Combine(_folder.FullName, "missing.txt"), "--out", Path.Combine(_folder.FullName, "x"));
        Assert.Equal(2, code);
        Assert.Contains("no such file", output);
        Assert.DoesNotContain("   at ", output);

        string empty = Path.Combine(_folder.FullName, "empty.txt");
        File.WriteAllText(empty, "");
        (code, output) = Run("--preset", "tiny", "--data", empty, "--out", Path.Combine(_folder.FullName, "y"));
        Assert.Equal(2, code);
        Assert.Contains("too little", output);

        (code, output) = Run("--resume", Path.Combine(_folder.FullName, "nowhere"));
        Assert.Equal(2, code);
        Assert.Contains("config.json", output);

        (code, output) = Run("--preset", "tiny", "--schedule", "wsd:2", "--out", Path.Combine(_folder.FullName, "z"));
        Assert.Equal(2, code);
        Assert.Contains("cooldown fraction", output);
    }
}
