using System.Globalization;
using System.Text.Json;
using FslTorch.Cli;
using FslTorch.Cli.Commands;
using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary><c>fsl watch</c> following a log that a test thread writes, line by line and sometimes part of a line at a time.</summary>
public sealed class WatchCommandTests : IDisposable
{
    private const long N = 2000;
    private const double Peak = 1e-3;
    private const long Warmup = 100;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-watch-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static double Loss(long k) => 2 + 3 / Math.Sqrt(1 + k / 20.0) + 0.01 * Math.Sin(k);

    // fsl watch with the momentum law on a log of a run of n steps (peak 1e-3, `warmup`) logged every 5th step, to its
    // last logged step; `onLine` sees the watcher's output as it comes.
    private static (int Code, string Output, string Error) WatchMomentum(string log, string decisions, long n, long warmup, double interval, Action<string> onLine) =>
        BuiltTool.Run("fsl.dll", TimeSpan.FromMinutes(2), ["watch", log, "--total-steps", n.ToString(CultureInfo.InvariantCulture), "--peak-lr", "1e-3",
            "--warmup", warmup.ToString(CultureInfo.InvariantCulture), "--law", "momentum", "--decisions", decisions,
            "--interval", interval.ToString(CultureInfo.InvariantCulture), "--until-step", (n - 5).ToString(CultureInfo.InvariantCulture), "--timeout", "100"],
            environment: null, onOutputLine: onLine);

    // The decision file says what a TrainingMonitor with the watcher's options decides from the same rows.
    private static TrainingMonitor AssertDecisionOfAReplay(string decisions, WsdSchedule plan, long n, Func<long, double> loss)
    {
        var monitor = new TrainingMonitor(plan, n, WatchCommand.MonitorOptions(new MomentumLaw(), plan, n, prior: null));
        for (long k = 0; k <= n - 5; k++) monitor.OnStepEnd(k, k % 5 == 0 ? loss(k) : double.NaN);
        var written = JsonDocument.Parse(File.ReadAllText(decisions)).RootElement;
        Assert.Equal(((WsdSchedule)monitor.Schedule).DecayStartStep, written.GetProperty("decay_start_step").GetInt64());
        Assert.Equal(monitor.LatestForecast!.FinalLoss, written.GetProperty("forecast").GetProperty("final_loss").GetDouble(), 9);
        return monitor;
    }

    [Fact]
    public void ItFollowsAGrowingLogAndEndsWithTheDecisionOfAReplay()
    {
        string log = Path.Combine(_folder.FullName, "run.csv");
        string decisions = Path.Combine(_folder.FullName, "decisions.json");
        var plan = new WsdSchedule(Peak, Warmup, WsdSchedule.DecayStartForFraction(N, 0.2), N);
        // The writer starts once the watcher says it waits for the file, writes the header in two parts, logs every 5th
        // step, and cuts lines in two.
        using var watcherWaits = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            watcherWaits.Wait(TimeSpan.FromSeconds(60)); // a watcher that never says so fails the test below
            using var stream = new StreamWriter(log) { AutoFlush = true };
            // A trainer writes its header first: the watcher reads a log with no row yet (and a part of the header) and waits.
            stream.Write("step,l");
            Thread.Sleep(200);
            stream.Write("r,loss\n");
            Thread.Sleep(200);
            for (long k = 0; k < N; k += 5)
            {
                string line = string.Create(CultureInfo.InvariantCulture, $"{k},{plan.GetLearningRate(k):R},{Loss(k):R}\n");
                if (k % 200 == 0)
                {
                    // Cut inside the loss: every cell is there, the number is not whole yet. The watcher polls meanwhile.
                    int cut = Math.Min(line.LastIndexOf(',') + 4, line.Length - 1); // "k,lr,2.1" of "k,lr,2.1234…"
                    stream.Write(line[..cut]);
                    Thread.Sleep(120);
                    stream.Write(line[cut..]);
                }
                else if (k % 200 == 100)
                {
                    stream.Write(line[..(line.Length / 2)]);
                    Thread.Sleep(60);
                    stream.Write(line[(line.Length / 2)..]);
                }
                else
                {
                    stream.Write(line);
                }
                if (k % 100 == 50) Thread.Sleep(20);
            }
        });
        writer.Start();
        var (code, output, error) = WatchMomentum(log, decisions, N, Warmup, 0.05, line => { if (line.Contains("waiting for", StringComparison.Ordinal)) watcherWaits.Set(); });
        writer.Join();
        Assert.True(code == 0, output + error);
        Assert.Contains("waiting for", output);
        Assert.Contains($"done at step {N - 5}", output);

        // The same rows replayed through a TrainingMonitor with the watcher's options decide the same.
        Assert.Null(WatchCommand.BuiltInPrior(new MomentumLaw())); // the watcher fits the momentum law without a prior
        using var monitor = AssertDecisionOfAReplay(decisions, plan, N, Loss);
        Assert.Equal((int)(N / 50), monitor.Forecaster.RefitInterval);
        Assert.Equal(Warmup, monitor.Forecaster.Options.FromStep);
        Assert.NotEmpty(monitor.Controller!.Decisions);
        Assert.False(File.Exists(decisions + ".tmp"));
    }

    [Fact]
    public void ALogReplacedByANewRunStartsTheWatchOver()
    {
        const long n = 1000;
        var plan = new WsdSchedule(Peak, 50, WsdSchedule.DecayStartForFraction(n, 0.2), n);
        double Other(long k) => 2.5 + 2 / Math.Sqrt(1 + k / 10.0); // the second run's curve
        string log = Path.Combine(_folder.FullName, "run.csv");
        string decisions = Path.Combine(_folder.FullName, "decisions.json");
        string Rows(Func<long, double> loss, long through) => "step,lr,loss\n" + string.Concat(Enumerable.Range(0, (int)(through / 5) + 1)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"{5 * i},{plan.GetLearningRate(5 * i):R},{loss(5 * i):R}\n")));
        using var firstRead = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            File.WriteAllText(log, Rows(Loss, 600)); // the first run, to step 600
            firstRead.Wait(TimeSpan.FromSeconds(60));
            Thread.Sleep(300);
            // Rotated: a new run's log takes its place (written beside it, then renamed over it).
            File.WriteAllText(log + ".new", Rows(Other, 300));
            File.Move(log + ".new", log, overwrite: true);
            Thread.Sleep(300);
            File.AppendAllText(log, Rows(Other, n - 5)[Rows(Other, 300).Length..]);
        });
        writer.Start();
        var (code, output, error) = WatchMomentum(log, decisions, n, 50, 0.03, line => { if (line.StartsWith("step 599", StringComparison.Ordinal)) firstRead.Set(); });
        writer.Join();
        Assert.True(code == 0, output + error);
        Assert.Contains("truncated or rotated; starting over", output);
        AssertDecisionOfAReplay(decisions, plan, n, Other).Dispose();
    }

    [Theory]
    [InlineData("tensorboard")]
    [InlineData("hf")]
    public void ItFollowsTensorBoardEventsAndATrainerStateThatIsRewritten(string format)
    {
        const long n = 1000;
        var plan = new WsdSchedule(Peak, 50, WsdSchedule.DecayStartForFraction(n, 0.2), n);
        // TensorBoard holds single-precision values; the Trainer's JSON the doubles.
        double Logged(long k) => format == "tensorboard" ? (float)Loss(k) : Loss(k);
        string log = Path.Combine(_folder.FullName, format == "tensorboard" ? "events" : "trainer_state.json");
        string decisions = Path.Combine(_folder.FullName, "decisions.json");
        using var watcherWaits = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            watcherWaits.Wait(TimeSpan.FromSeconds(60));
            if (format == "tensorboard")
            {
                // A step's LR before its loss: a read between the two sees the step without its loss, which must wait.
                var events = TorchSharp.torch.utils.tensorboard.SummaryWriter(log);
                for (long k = 0; k < n; k += 5)
                {
                    events.add_scalar("train/lr", (float)plan.GetLearningRate(k), (int)k);
                    if (k % 100 == 50) Thread.Sleep(60);
                    events.add_scalar("train/loss", (float)Loss(k), (int)k);
                    if (k % 50 == 0) Thread.Sleep(10);
                }
            }
            else
            {
                // The whole file rewritten in place every 100 steps, in two writes: a read between them sees cut JSON.
                var history = new List<string>();
                for (long k = 0; k < n; k += 5)
                {
                    history.Add(string.Create(CultureInfo.InvariantCulture, $"{{\"step\": {k}, \"learning_rate\": {plan.GetLearningRate(k):R}, \"loss\": {Loss(k):R}}}"));
                    if (k % 100 != 95) continue;
                    string text = $"{{\"global_step\": {k}, \"log_history\": [{string.Join(", ", history)}]}}";
                    using (var stream = new StreamWriter(log, append: false) { AutoFlush = true })
                    {
                        stream.Write(text[..(text.Length / 2)]);
                        Thread.Sleep(80);
                        stream.Write(text[(text.Length / 2)..]);
                    }
                    Thread.Sleep(20);
                }
            }
        });
        writer.Start();
        var (code, output, error) = WatchMomentum(log, decisions, n, 50, 0.03, line => { if (line.Contains("waiting for", StringComparison.Ordinal)) watcherWaits.Set(); });
        writer.Join();
        Assert.True(code == 0, output + error);
        Assert.Contains($"done at step {n - 5}", output);
        AssertDecisionOfAReplay(decisions, plan, n, Logged).Dispose();
    }

    [SharedDataFact]
    public void WatchingA124MRunsLogMakesTheDecisionOfBenchDecay()
    {
        // The cell of fsl bench decay at peak 2e-3 and budget 25k (its quickest): its prior (the calibration fit)
        // written as a file, its decision made by the benchmark's replay.
        const double peak = 2e-3;
        const int total = 25000;
        var runs = SchaippDataset.Load(SharedData.PathOf("schaipp-124m"));
        var constant = runs.Single(r => r.Schedule == "constant" && r.PeakLearningRate == peak);
        var calibration = DecayBenchmark.Calibration(runs, peak, LossCurveLaws.Default);
        string prior = Path.Combine(_folder.FullName, "prior.json");
        calibration.SaveParameters(prior);
        var cell = DecayBenchmark.Replay(constant, total, calibration, DecayBenchmark.Grid(runs, peak, total)!, options: null);
        Assert.True(cell.DecayStartStep < total - total / 20, $"decay from {cell.DecayStartStep}"); // the controller moved the 5% plan

        // The run's own log, raw (warmup rows, the final evaluation row), written line by line by another thread.
        string log = Path.Combine(_folder.FullName, "constant.csv");
        string decisions = Path.Combine(_folder.FullName, "decisions.json");
        var lines = File.ReadAllLines(Path.Combine(SharedData.PathOf("schaipp-124m"), constant.File));
        using var watcherWaits = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            watcherWaits.Wait(TimeSpan.FromSeconds(60));
            using var stream = new StreamWriter(log) { AutoFlush = true };
            foreach (var line in lines)
            {
                stream.Write(line + "\n");
                Thread.Sleep(1);
            }
        });
        writer.Start();
        var (code, output, error) = BuiltTool.Run("fsl.dll", TimeSpan.FromMinutes(4), ["watch", log, "--total-steps", total.ToString(CultureInfo.InvariantCulture),
            "--plan", DecayBenchmark.PlanSpec(constant, total), "--prior", prior, "--prior-spread", DecayBenchmark.PriorSpread.ToString(CultureInfo.InvariantCulture),
            "--decisions", decisions, "--interval", "0.05", "--until-step", cell.DecayStartStep.ToString(CultureInfo.InvariantCulture), "--timeout", "220"],
            environment: null, onOutputLine: line => { if (line.Contains("waiting for", StringComparison.Ordinal)) watcherWaits.Set(); });
        writer.Join();
        Assert.True(code == 0, output + error);
        Assert.Contains($"done at step {cell.DecayStartStep}", output);
        var written = JsonDocument.Parse(File.ReadAllText(decisions)).RootElement;
        Assert.Equal(cell.DecayStartStep, written.GetProperty("decay_start_step").GetInt64());
    }

    [Fact]
    public void AProbesLogIsFittedFromItsForkAsInAReplayWithTheProbe()
    {
        const long fork = 800, until = 1100;
        var plan = new WsdSchedule(Peak, Warmup, WsdSchedule.DecayStartForFraction(N, 0.2), N);
        string log = Path.Combine(_folder.FullName, "run.csv"), probeLog = Path.Combine(_folder.FullName, "probe.csv");
        File.WriteAllLines(log, ["step,lr,loss", .. Enumerable.Range(0, (int)N / 5).Select(i => 5L * i)
            .Select(k => string.Create(CultureInfo.InvariantCulture, $"{k},{plan.GetLearningRate(k):R},{Loss(k):R}"))]);
        // An 80-step linear decay to 0 forked at step 800, whose loss falls 0.2 below the run's by its end.
        File.WriteAllLines(probeLog, ["step,lr,loss", .. Enumerable.Range(0, 80)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"{fork + i},{Peak * (1 - i / 80.0):R},{Loss(fork + i) - 0.2 * i / 80.0:R}"))]);
        string Watch(string decisions, params string[] more)
        {
            var (code, output, error) = CliProcess.Run(["watch", log, "--total-steps", N.ToString(CultureInfo.InvariantCulture), "--peak-lr", "1e-3",
                "--warmup", Warmup.ToString(CultureInfo.InvariantCulture), "--law", "momentum", "--decisions", decisions, "--interval", "0.05",
                "--until-step", until.ToString(CultureInfo.InvariantCulture), "--timeout", "100", .. more]);
            Assert.True(code == 0, output + error);
            return decisions;
        }
        double Replay(bool withProbe)
        {
            using var monitor = new TrainingMonitor(plan, N, WatchCommand.MonitorOptions(new MomentumLaw(), plan, N, prior: null));
            for (long k = 0; k <= until; k++)
            {
                if (withProbe && k == fork) monitor.AddProbe(WatchCommand.ReadProbe(probeLog, N));
                monitor.OnStepEnd(k, k % 5 == 0 ? Loss(k) : double.NaN);
            }
            Assert.Equal(withProbe, monitor.LatestForecast!.HasDecayEvidence);
            return monitor.LatestForecast!.FinalLoss;
        }
        double Written(string decisions) => JsonDocument.Parse(File.ReadAllText(decisions)).RootElement.GetProperty("forecast").GetProperty("final_loss").GetDouble();

        double probed = Written(Watch(Path.Combine(_folder.FullName, "probed.json"), "--probe", probeLog));
        Assert.Equal(Replay(withProbe: true), probed, 9);
        double plain = Written(Watch(Path.Combine(_folder.FullName, "plain.json")));
        Assert.Equal(Replay(withProbe: false), plain, 9);
        Assert.NotEqual(plain, probed, 3);

        // A probe's log with a step missing is refused before anything is watched.
        File.WriteAllLines(probeLog, ["step,lr,loss", "800,0.001,2.5", "801,0.0009,2.4", "803,0.0008,2.3"]);
        var (refusedCode, _, refused) = CliProcess.Run("watch", log, "--total-steps", "2000", "--peak-lr", "1e-3", "--probe", probeLog);
        Assert.Equal(2, refusedCode);
        Assert.Contains("a probe's log has every one of its steps", refused);
    }

    [Fact]
    public void AWatchWithoutALogEndsAtItsTimeoutAndBadPlansAreRefused()
    {
        string decisions = Path.Combine(_folder.FullName, "d.json");
        var (code, output, _) = CliProcess.Run("watch", Path.Combine(_folder.FullName, "never.csv"), "--total-steps", "1000", "--peak-lr", "1e-3",
            "--decisions", decisions, "--interval", "0.05", "--timeout", "0.5");
        Assert.Equal(0, code);
        Assert.Contains("--timeout", output);
        (code, _, var error) = CliProcess.Run("watch", "x.csv", "--total-steps", "1000", "--plan", "cosine:peak=1e-3,total=1000");
        Assert.Equal(2, code);
        Assert.Contains("give a wsd: spec", error);
        (code, _, error) = CliProcess.Run("watch", "x.csv", "--total-steps", "1000");
        Assert.Equal(2, code);
        Assert.Contains("--peak-lr", error);
    }
}
