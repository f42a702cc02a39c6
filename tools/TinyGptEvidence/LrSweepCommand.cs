using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FslTorch;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Surrogates;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// <c>lrs</c>: a peak-LR sweep with early abort (<see cref="EarlyAbortSweep"/>), against the same sweep run to the end.
/// Per seed, the LRs run middle first (or in the order given); every run after the first gets <c>--abort-above</c> the
/// best final training loss so far plus a margin, so the monitor stops it once its calibrated forecast band says it
/// cannot finish there, and <c>--prior</c> the last fit of the finished run nearest in LR, on every parameter of the
/// law but its level (<see cref="EarlyAbortSweep.ShapeParameters"/>), and <c>--abort-reference</c> that run's folder, whose
/// forecast errors widen the abort band (unless <c>--no-widen</c>). The LR chosen
/// (lowest final eval loss among the runs that finished) is scored against the full sweep's best, and the steps
/// the aborting sweep used against the full sweep's. Results: lrs.md and lrs.json; finished runs are reused.
/// </summary>
public static class LrSweepCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder of the runs and results.", DefaultValueFactory = _ => "runs/lrs" };
        var rates = new Option<double[]>("--lrs") { Description = "Peak LRs (the aborting sweep runs them in the order of --order).", DefaultValueFactory = _ => [1e-3, 2e-3, 4e-3, 6e-3, 1e-2, 2e-2], AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<long[]>("--seeds") { Description = "Seeds (one sweep each).", DefaultValueFactory = _ => [1, 2], AllowMultipleArgumentsPerToken = true };
        var steps = new Option<long>("--steps") { Description = "Budget N of every run.", DefaultValueFactory = _ => 1000 };
        var preset = new Option<string>("--preset") { Description = "TinyGpt preset of the model (small: 4 layers, 4 heads, context 128, batch 32).", DefaultValueFactory = _ => "small" };
        var width = new Option<int>("--width") { Description = "Model width.", DefaultValueFactory = _ => 32 };
        var margin = new Option<double>("--margin") { Description = "Abort a run whose final training loss is forecast (calibrated band) above the best so far plus this.", DefaultValueFactory = _ => 0.05 };
        var schedule = new Option<string>("--schedule") { Description = "Every run's TinyGpt schedule.", DefaultValueFactory = _ => "wsd:0.2" };
        var threads = new Option<int>("--threads") { Description = "CPU threads of each run.", DefaultValueFactory = _ => 2 };
        var data = new Option<string?>("--data") { Description = "Training text (TinyGpt's default corpus when absent)." };
        var order = new Option<string>("--order") { Description = "The order the aborting sweep runs its LRs in: middle-out (the middle LR first, then alternately the next above and below) or given.", DefaultValueFactory = _ => "middle-out" };
        order.AcceptOnlyFromAmong("middle-out", "given");
        var spread = new Option<double>("--prior-spread") { Description = "The spread (log units) of the prior each run takes from the finished run nearest in LR.", DefaultValueFactory = _ => EarlyAbortSweep.DefaultPriorSpread };
        var noWiden = new Option<bool>("--no-widen") { Description = "Do not widen each run's abort band by the errors of the finished run nearest in LR (--abort-reference)." };
        var sideBySide = new Option<bool>("--side-by-side")
        {
            Description = "Instead of the sequential aborting sweep, the sweep with every LR advancing together (SideBySideSweep), replayed from the full runs: at every check each run's forecast is refitted from its logged losses (--live: the sweep run for real), and a run whose calibrated band lies above the lowest calibrated forecast of the runs still going plus the margin is stopped there (TinyGpt's runs are deterministic, so a run stopped at step k has the full run's losses up to k). Results in lrs-side-by-side.md/json.",
        };
        var live = new Option<bool>("--live")
        {
            Description = "With --side-by-side: run that sweep for real instead of replaying it: every LR's run (seedS-lrX-together) trains to the next check in turn (TinyGpt --stop-at, then --resume), refitting at every check (--refit-every), and a run the sweep stops is not resumed. The full runs are still run (or reused) to score the choice. Results in lrs-side-by-side-live.md/json.",
        };
        var probeAt = new Option<double[]>("--probe-at")
        {
            Description = "Fractions of the budget at which the aborting sweep's runs fork cooldown probes (TinyGpt --probe-at; TinyGpt's default when absent). The full runs keep TinyGpt's default: a probe forks beside a run and leaves its losses as they are.",
            AllowMultipleArgumentsPerToken = true,
        };
        var checkEvery = new Option<double>("--check-every") { Description = "With --side-by-side: the spacing of the checks, as a fraction of the budget.", DefaultValueFactory = _ => 0.05 };
        var command = new Command("lrs", "LR sweep with early abort from calibrated forecasts, against the full sweep: the LR chosen, its regret and the compute saved.")
            { output, rates, seeds, steps, preset, width, margin, schedule, threads, data, order, spread, noWiden, sideBySide, live, probeAt, checkEvery };
        command.SetAction(parse =>
        {
            var lrList = parse.GetValue(rates)!;
            var seedList = parse.GetValue(seeds)!;
            long total = parse.GetValue(steps);
            double slack = parse.GetValue(margin);
            if (lrList.Length < 2 || lrList.Distinct().Count() != lrList.Length || lrList.Any(r => !(r > 0))) return Fail("--lrs: give at least 2 distinct LRs > 0.");
            if (seedList.Length < 1 || seedList.Distinct().Count() != seedList.Length) return Fail("--seeds must be distinct.");
            if (total < 100) return Fail("--steps must be at least 100.");
            if (!(slack >= 0)) return Fail("--margin must be >= 0.");
            if (!(parse.GetValue(spread) > 0 && double.IsFinite(parse.GetValue(spread)))) return Fail("--prior-spread must be a finite number > 0.");
            bool together = parse.GetValue(sideBySide);
            double every = parse.GetValue(checkEvery);
            if (!(every > 0 && every <= 0.5)) return Fail("--check-every must lie in (0, 0.5].");
            if (!together && parse.GetResult(checkEvery) is { Implicit: false }) return Fail("--check-every goes with --side-by-side.");
            var probes = parse.GetValue(probeAt) is { Length: > 0 } asked ? asked : null;
            if (probes != null && probes.Any(f => !(f > 0 && f < 1))) return Fail("--probe-at: give fractions of the budget in (0, 1).");
            bool running = parse.GetValue(live);
            if (running && !together) return Fail("--live goes with --side-by-side.");
            if (probes != null && together && !running) return Fail("--probe-at: a side-by-side replay has the full runs' own probes; give it with --live, or to the sequential sweep.");

            string folder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(folder);
            var runs = new TrainingRuns(folder, Console.Out);
            var clock = Stopwatch.StartNew();
            string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
            List<string> Common(double lr, long seed) => RunArguments.Of(parse.GetValue(preset)!, total, seed, parse.GetValue(threads), parse.GetValue(data),
                "--width", parse.GetValue(width).ToString(CultureInfo.InvariantCulture), "--lr", F(lr), "--schedule", parse.GetValue(schedule)!);
            // A run of the aborting sweep: the full run's flags and the probes asked for.
            List<string> Aborting(double lr, long seed) =>
                probes == null ? Common(lr, seed) : [.. Common(lr, seed), "--probe-at", .. probes.Select(f => f.ToString("R", CultureInfo.InvariantCulture))];

            var sweeps = new List<SweepResult>();
            foreach (long seed in seedList)
            {
                var full = lrList.Select(lr => runs.Run($"seed{seed}-lr{F(lr)}-full", Common(lr, seed))).ToList();
                if (together)
                {
                    // A live run refits at every check, where the replay refits each full run.
                    string interval = Math.Max(1, (long)Math.Round(every * total)).ToString(CultureInfo.InvariantCulture);
                    var replayed = running
                        ? SideBySideLive(runs, lrList.Select(lr => ($"seed{seed}-lr{F(lr)}-together", (IReadOnlyList<string>)[.. Aborting(lr, seed), "--refit-every", interval])).ToList(),
                            full, slack, every)
                        : SideBySide(lrList.Select(lr => runs.Folder($"seed{seed}-lr{F(lr)}-full")).ToList(), full, slack, every);
                    sweeps.Add(Score(seed, lrList, full, replayed));
                    continue;
                }
                var sweep = new EarlyAbortSweep(slack, parse.GetValue(spread), widenByReference: !parse.GetValue(noWiden));
                var folders = new Dictionary<double, string>();
                var aborting = new Dictionary<double, RunSummary>();
                foreach (double lr in Ordered(lrList, parse.GetValue(order)!))
                {
                    RunSummary summary;
                    string runFolder;
                    if (sweep.Threshold is not double threshold)
                    {
                        // The first run has nothing to beat: it is the full sweep's run.
                        summary = full[Array.IndexOf(lrList, lr)];
                        runFolder = runs.Folder($"seed{seed}-lr{F(lr)}-full");
                    }
                    else
                    {
                        runFolder = runs.Folder($"seed{seed}-lr{F(lr)}-abort");
                        var arguments = Aborting(lr, seed);
                        arguments.AddRange(["--abort-above", threshold.ToString("R", CultureInfo.InvariantCulture)]);
                        // The finished run nearest in LR gives this run's forecasts the law's parameters but the level as its prior.
                        if (sweep.NearestFinished(lr) is { } nearest)
                        {
                            arguments.AddRange(["--prior", Path.Combine(folders[nearest.Setting], "fit.json"), "--prior-spread", sweep.PriorSpread.ToString("R", CultureInfo.InvariantCulture), "--prior-on"]);
                            arguments.AddRange(EarlyAbortSweep.ShapeParameters(LossCurveLaws.Default));
                            // Its forecasts' errors at each fraction of the budget widen this run's abort band there.
                            if (sweep.WidenByReference) arguments.AddRange(["--abort-reference", folders[nearest.Setting]]);
                        }
                        summary = runs.Run($"seed{seed}-lr{F(lr)}-abort", arguments);
                    }
                    string fitFile = Path.Combine(runFolder, "fit.json");
                    var fit = summary.AbortReason == null && File.Exists(fitFile) ? FitResult.LoadParameters(fitFile) : null;
                    sweep.Record(new SweepRun(lr, total, summary.StepsTaken, summary.FinalTrainingLoss, summary.AbortReason, fit)
                        { ForecastErrors = summary.AbortReason == null ? RunFolder.ForecastErrors(runFolder) : [] });
                    folders[lr] = runFolder;
                    aborting[lr] = summary;
                }
                sweeps.Add(Score(seed, lrList, full, lrList.Select(lr => aborting[lr]).ToList()));
            }

            var report = new StringBuilder();
            report.AppendLine(together
                ? FormattableString.Invariant($"# LR sweep with early abort, every LR side by side ({(running ? "run live, each run trained to each check in turn" : "replayed from the full runs")}): TinyGpt width {parse.GetValue(width)}, {total} steps, {parse.GetValue(schedule)}, margin {F(slack)}, checks every {every:P0} of the budget, no prior (each run's own probe is its decay evidence)")
                : FormattableString.Invariant($"# LR sweep with early abort: TinyGpt width {parse.GetValue(width)}, {total} steps, {parse.GetValue(schedule)}, margin {F(slack)}, order {parse.GetValue(order)}, prior from the finished run nearest in LR on every parameter but the level (spread {F(parse.GetValue(spread))}){(parse.GetValue(noWiden) ? "" : ", abort bands widened by that run's forecast errors")}"));
            if (probes != null) report.AppendLine(CultureInfo.InvariantCulture, $"The aborting sweep's runs fork cooldown probes at {string.Join(", ", probes.Select(f => f.ToString("0.##", CultureInfo.InvariantCulture)))} of their budget.");
            report.AppendLine();
            report.AppendLine("| seed | LR | final eval (full run) | final training (full run) | steps in the aborting sweep | aborted because |");
            report.AppendLine("|---|---|---|---|---|---|");
            foreach (var sweep in sweeps)
            {
                foreach (var run in sweep.Runs)
                    report.AppendLine(CultureInfo.InvariantCulture, $"| {sweep.Seed} | {F(run.LearningRate)} | {run.FinalEval:F4} | {run.FinalTraining:F4} | {run.StepsTaken} | {run.AbortReason ?? "–"} |");
            }
            report.AppendLine();
            report.AppendLine("| seed | LR chosen | best LR of the full sweep | regret (eval) | steps used | steps of the full sweep | saved |");
            report.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var sweep in sweeps)
            {
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"| {sweep.Seed} | {F(sweep.Chosen)} | {F(sweep.Best)} | {sweep.Regret:F4} | {sweep.StepsUsed} | {sweep.StepsFull} | {1 - (double)sweep.StepsUsed / sweep.StepsFull:P0} |");
            }
            double meanRegret = sweeps.Average(s => s.Regret);
            double saved = 1 - (double)sweeps.Sum(s => s.StepsUsed) / sweeps.Sum(s => s.StepsFull);
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"Mean regret {meanRegret:F4} nats (target ≤ 0.01: {(meanRegret <= 0.01 ? "met" : "missed")}); compute saved {saved:P0} of the full sweeps' steps (target ≥ 40%: {(saved >= 0.4 ? "met" : "missed")}). Wall time of this command: {clock.Elapsed.TotalMinutes:F1} min.");
            // What no abort rule of a side-by-side sweep can beat: every run that ended more than the margin above the best stopped at once.
            double? perfect = together ? PerfectSaving(sweeps, slack) : null;
            if (perfect is double bound) report.AppendLine(CultureInfo.InvariantCulture, $"A perfect abort (every run whose full run ended more than the margin above the best run's final training loss, stopped at its first step) would save {bound:P0}.");
            string results = together ? running ? "lrs-side-by-side-live" : "lrs-side-by-side" : "lrs";
            File.WriteAllText(Path.Combine(folder, $"{results}.md"), report.ToString());
            AtomicFile.WriteAllText(Path.Combine(folder, $"{results}.json"), JsonSerializer.Serialize(new { steps = total, margin = slack, sweeps, mean_regret = meanRegret, saved, perfect_saved = perfect },
                new JsonSerializerOptions { WriteIndented = true }));
            Console.Write(report);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One seed's sweep scored: the LR chosen (lowest final eval loss among the aborting sweep's runs that finished),
    /// its regret against the full sweep's best (both from the full runs' eval losses), and the steps each sweep used.
    /// </summary>
    public static SweepResult Score(long seed, IReadOnlyList<double> learningRates, IReadOnlyList<RunSummary> full, IReadOnlyList<RunSummary> aborting)
    {
        if (full.Count != learningRates.Count || aborting.Count != learningRates.Count) throw new ArgumentException("One full and one aborting run per LR are needed.");
        var finished = Enumerable.Range(0, learningRates.Count).Where(i => aborting[i].AbortReason == null).ToList();
        if (finished.Count == 0) throw new ArgumentException("Every run of the aborting sweep was aborted; its first never is.");
        int chosen = finished.MinBy(i => aborting[i].FinalEvalLoss);
        int truth = Enumerable.Range(0, learningRates.Count).MinBy(i => full[i].FinalEvalLoss);
        return new SweepResult(seed, learningRates[chosen], learningRates[truth], full[chosen].FinalEvalLoss - full[truth].FinalEvalLoss,
            aborting.Sum(r => r.StepsTaken), full.Sum(r => r.StepsTaken),
            learningRates.Select((lr, i) => new LrRun(lr, full[i].FinalEvalLoss, full[i].FinalTrainingLoss, aborting[i].StepsTaken, aborting[i].AbortReason)).ToList());
    }

    /// <summary>
    /// A seed's full runs replayed as a sweep whose LRs advance together (<see cref="SideBySideSweep{TKey}"/>): at every
    /// check (every <paramref name="checkEvery"/> of the budget) each run still going is refitted from its logged losses
    /// (<see cref="LiveReplay.ForecastSeries"/>, its own probes included) and reported, and the runs the sweep stops end
    /// there. Returns each run as that sweep leaves it: a stopped one with the steps it took and why.
    /// </summary>
    public static IReadOnlyList<RunSummary> SideBySide(IReadOnlyList<string> folders, IReadOnlyList<RunSummary> full, double margin, double checkEvery)
    {
        if (folders.Count != full.Count) throw new ArgumentException("One folder per full run is needed.");
        long total = full[0].Steps;
        var checks = SideBySideSweep<int>.CheckSteps(total, checkEvery);
        var series = folders.Select(f => LiveReplay.ForecastSeries(f, checks).ToDictionary(forecast => forecast.Step)).ToList();
        var sweep = new SideBySideSweep<int>(margin);
        var stoppedAt = new Dictionary<int, long>();
        foreach (long step in checks)
        {
            for (int i = 0; i < full.Count; i++)
            {
                if (series[i].TryGetValue(step, out var forecast)) sweep.Report(i, ForecastRecord.Of(forecast));
            }
            foreach (int i in sweep.Check()) stoppedAt[i] = step + 1;
        }
        return full.Select((run, i) => stoppedAt.TryGetValue(i, out long taken) ? run with { StepsRun = taken, AbortReason = sweep.Stopped[i] } : run).ToList();
    }

    /// <summary>
    /// A seed's sweep run live with its LRs advancing together (<see cref="SideBySideSweep{TKey}"/>): at every check (every
    /// <paramref name="checkEvery"/> of the budget) each run still going trains up to it (<see cref="TrainingRuns.RunUntil"/>)
    /// and reports its latest logged forecast, and the runs the sweep stops are never resumed; the others finish. Returns
    /// each run as the sweep leaves it: a finished one with its own summary, a stopped one as its full run
    /// (<paramref name="full"/>, the same LR and seed run whole) with the steps it took and why.
    /// </summary>
    public static IReadOnlyList<RunSummary> SideBySideLive(TrainingRuns runs, IReadOnlyList<(string Name, IReadOnlyList<string> Arguments)> settings,
        IReadOnlyList<RunSummary> full, double margin, double checkEvery)
    {
        if (settings.Count != full.Count) throw new ArgumentException("One full run per run of the sweep is needed.");
        long total = full[0].Steps;
        var sweep = new SideBySideSweep<int>(margin);
        var stoppedAt = new Dictionary<int, long>();
        foreach (long step in SideBySideSweep<int>.CheckSteps(total, checkEvery))
        {
            for (int i = 0; i < settings.Count; i++)
            {
                if (sweep.Stopped.ContainsKey(i)) continue;
                runs.RunUntil(settings[i].Name, settings[i].Arguments, step + 1);
                var latest = new RunFolder(runs.Folder(settings[i].Name)).ForecastRecords(total).LastOrDefault(f => f.Step <= step);
                if (latest != null) sweep.Report(i, latest);
            }
            foreach (int i in sweep.Check()) stoppedAt[i] = step + 1;
        }
        return settings.Select((run, i) => stoppedAt.TryGetValue(i, out long taken)
            ? full[i] with { StepsRun = taken, AbortReason = sweep.Stopped[i] }
            : runs.Run(run.Name, run.Arguments)).ToList();
    }

    /// <summary>
    /// The share of the full sweeps' steps a perfect abort saves (<see cref="EarlyAbortSweep.PerfectAbortSaving"/> per seed,
    /// by final training loss, pooled over the seeds' steps).
    /// </summary>
    public static double PerfectSaving(IReadOnlyList<SweepResult> sweeps, double margin) =>
        sweeps.Sum(s => EarlyAbortSweep.PerfectAbortSaving(s.Runs.Select(r => (r.FinalTraining, s.StepsFull / s.Runs.Count)).ToList(), margin) * s.StepsFull)
        / sweeps.Sum(s => s.StepsFull);

    /// <summary>One LR of one seed's sweep.</summary>
    public sealed record LrRun(double LearningRate, double FinalEval, double FinalTraining, long StepsTaken, string? AbortReason);

    /// <summary>One seed's sweep: the LR it chose, the full sweep's best, and the steps each used.</summary>
    public sealed record SweepResult(long Seed, double Chosen, double Best, double Regret, long StepsUsed, long StepsFull, IReadOnlyList<LrRun> Runs);

    /// <summary>The LRs in the order the aborting sweep runs them.</summary>
    public static IReadOnlyList<double> Ordered(IReadOnlyList<double> learningRates, string order) =>
        order == "given" ? learningRates : EarlyAbortSweep.MiddleOut(learningRates);

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tinygpt-evidence lrs: {message}");
        return 2;
    }
}
