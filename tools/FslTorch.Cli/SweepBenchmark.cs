using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Cli;

/// <summary>
/// <c>fsl bench sweep</c>: peak-LR sweeps with early abort replayed on the real runs of the 124M grid (or of any grid in its layout). For every
/// schedule and budget run at four or more peak LRs (at every peak of a grid with fewer, at least two), the runs arrive one after another (middle LR first by default)
/// through <see cref="EarlyAbortSweep"/> and a <see cref="TrainingMonitor"/> each (the run's own fixed schedule, no
/// decay control, Abort early stopping against the best finished run plus the margin, the prior from the finished run
/// nearest in LR, and by default each vote's band widened by that run's forecast errors at the same fraction of its
/// budget); every logged validation loss arrives at its step, nothing in between, and a run the monitor stops
/// ends there. An early stop only cuts a logged run short, so the replay is exactly what the sweep would have done.
/// Scored: the LR chosen (lowest final loss among the finished runs) against the grid's best, and the steps saved.
/// </summary>
internal static class SweepBenchmark
{
    /// <summary>One run of one replayed sweep.</summary>
    internal sealed record RunResult(double PeakLearningRate, long StepsTaken, double FinalValidationLoss, string? StopReason, double? Threshold,
        bool HadPrior, int Forecasts, int Calibrated)
    {
        /// <summary>The step its cooldown probe forked at (<see cref="GridProbe"/>); null when it had none.</summary>
        public long? ProbeFork { get; init; }
    }

    /// <summary>One replayed sweep (one schedule and budget).</summary>
    internal sealed record GroupResult(string Schedule, int TotalSteps, double Chosen, double Best, double Regret, long StepsTaken, long StepsFull,
        IReadOnlyList<RunResult> Runs, double Seconds)
    {
        /// <summary>The runs whose final loss lies more than the margin above the grid's best (the ones a sweep may stop).</summary>
        public int Hopeless(double margin) => Runs.Count(r => r.FinalValidationLoss > Runs.Min(b => b.FinalValidationLoss) + margin);

        /// <summary>The share of the steps saved by stopping every hopeless run at its first step (what a perfect abort saves).</summary>
        public double PerfectSaving(double margin) =>
            EarlyAbortSweep.PerfectAbortSaving(Runs.Select(r => (r.FinalValidationLoss, (long)TotalSteps)).ToList(), margin);
    }

    /// <summary>Orders the sweep may run its LRs in.</summary>
    public static readonly string[] Orders = ["middle-out", "ascending", "descending"];

    /// <summary>
    /// Replays every sweep of the grid (filtered by <paramref name="schedules"/> and <paramref name="budgets"/>) and prints and
    /// writes the results; one after another through <see cref="EarlyAbortSweep"/>, or with <paramref name="checkEvery"/>
    /// side by side (<see cref="ReplaySideBySide"/>: order, prior and widening then do not apply), where with
    /// <paramref name="probes"/> each WSD run forks the cooldown probe the grid holds for it (<see cref="GridProbe"/>).
    /// </summary>
    public static int Run(string folder, double margin, string order, double? priorSpread, IReadOnlyList<string>? priorOn, double refitFraction, bool widen, IReadOnlyList<string>? schedules,
        IReadOnlyList<int>? budgets, string? json, TextWriter output, LossCurveLaw? law = null, double? checkEvery = null, bool probes = false)
    {
        if (probes && checkEvery == null) throw new ArgumentException("Probes go with the side-by-side sweep (checkEvery).");
        law ??= LossCurveLaws.Default;
        var runs = SchaippDataset.Load(folder, output);
        // A sweep is a schedule and budget run at every peak LR of the grid, or at four or more (at least two).
        int needed = Math.Max(2, Math.Min(4, SchaippDataset.Peaks(runs).Count));
        var groups = runs.GroupBy(r => (r.Schedule, r.TotalSteps))
            .Where(g => g.Count() >= needed && (schedules == null || schedules.Contains(g.Key.Schedule)) && (budgets == null || budgets.Contains(g.Key.TotalSteps)))
            .OrderBy(g => g.Key.Schedule, StringComparer.Ordinal).ThenBy(g => g.Key.TotalSteps).ToList();
        if (groups.Count == 0) throw new ArgumentException($"No schedule and budget of the grid has runs at {needed} or more peak LRs with these filters.");
        var clock = Stopwatch.StartNew();
        var results = new List<GroupResult>();
        foreach (var group in groups)
        {
            var result = checkEvery is double every
                ? ReplaySideBySide(group.ToList(), margin, refitFraction, every, law, probes ? run => GridProbe(run, runs) : null)
                : Replay(group.ToList(), margin, order, priorSpread, priorOn, refitFraction, widen, law);
            results.Add(result);
            string F(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Schedule,-20} T {result.TotalSteps,6}  chose {F(result.Chosen),-7} best {F(result.Best),-7} regret {result.Regret:F4}  saved {1 - (double)result.StepsTaken / result.StepsFull,4:P0} (a perfect abort: {result.PerfectSaving(margin):P0})  ({result.Seconds:F0} s)"));
            foreach (var run in result.Runs)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    lr {F(run.PeakLearningRate),-7} {run.StepsTaken,6} steps  final {run.FinalValidationLoss:F4}  threshold {(run.Threshold is double t ? t.ToString("F4", CultureInfo.InvariantCulture) : "–"),-7} prior {(run.HadPrior ? "yes" : "no ")}{(run.ProbeFork is long fork ? $"  probe at {fork}" : "")}  calibrated forecasts {run.Calibrated}/{run.Forecasts}{(run.StopReason != null ? "  stopped: " + run.StopReason : "")}"));
            }
        }
        double meanRegret = results.Average(r => r.Regret);
        double saved = 1 - (double)results.Sum(r => r.StepsTaken) / results.Sum(r => r.StepsFull);
        int wrong = results.Count(r => r.Regret > margin);
        double perfect = results.Sum(r => r.PerfectSaving(margin) * r.StepsFull) / results.Sum(r => r.StepsFull);
        int hopeless = results.Sum(r => r.Hopeless(margin));
        int stoppedHopeless = results.Sum(r => r.Runs.Count(x => x.StopReason != null && x.FinalValidationLoss > r.Runs.Min(b => b.FinalValidationLoss) + margin));
        int stopped = results.Sum(r => r.Runs.Count(x => x.StopReason != null));
        string mode = checkEvery is double spacing
            ? string.Create(CultureInfo.InvariantCulture, $"side by side, checked every {spacing:P0} of the budget, no prior, {(probes ? "a probe from the grid's shortest 10% cooldown where it has one" : "no probes")}, margin {margin}")
            : string.Create(CultureInfo.InvariantCulture, $"{order}, margin {margin}, prior {(priorSpread is double s ? (priorOn == null ? "on every parameter but the level, " : "on " + string.Join(" ", priorOn) + ", ") + "spread " + s.ToString(CultureInfo.InvariantCulture) : "none")}, {(widen ? "bands widened by the nearest finished run's forecast errors" : "bands not widened")}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{results.Count} sweeps ({law.Name}, {mode}): mean regret {meanRegret:F4}, max {results.Max(r => r.Regret):F4}, {wrong} above the margin; steps saved {saved:P1} (a perfect abort: {perfect:P1}); stopped {stoppedHopeless} of {hopeless} hopeless runs and {stopped - stoppedHopeless} others; {clock.Elapsed.TotalSeconds:F0} s"));
        if (json != null)
        {
            Report.WriteJson(new JsonObject
            {
                ["margin"] = margin,
                ["side_by_side"] = checkEvery != null,
                ["probes"] = probes,
                ["check_every"] = checkEvery,
                ["order"] = order,
                ["prior_spread"] = priorSpread,
                ["law"] = law.Name,
                ["prior_on"] = string.Join(" ", priorOn ?? EarlyAbortSweep.ShapeParameters(law)),
                ["widened_by_reference"] = widen,
                ["mean_regret"] = meanRegret,
                ["max_regret"] = results.Max(r => r.Regret),
                ["saved"] = saved,
                ["perfect_saving"] = perfect,
                ["hopeless_runs"] = hopeless,
                ["hopeless_runs_stopped"] = stoppedHopeless,
                ["other_runs_stopped"] = stopped - stoppedHopeless,
                ["sweeps"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
                {
                    ["schedule"] = r.Schedule,
                    ["total_steps"] = r.TotalSteps,
                    ["chosen_lr"] = r.Chosen,
                    ["best_lr"] = r.Best,
                    ["regret"] = r.Regret,
                    ["steps_taken"] = r.StepsTaken,
                    ["steps_full"] = r.StepsFull,
                    ["runs"] = new JsonArray(r.Runs.Select(run => (JsonNode)new JsonObject
                    {
                        ["peak_lr"] = run.PeakLearningRate,
                        ["steps_taken"] = run.StepsTaken,
                        ["final_val_loss"] = run.FinalValidationLoss,
                        ["threshold"] = run.Threshold,
                        ["had_prior"] = run.HadPrior,
                        ["forecasts"] = run.Forecasts,
                        ["calibrated_forecasts"] = run.Calibrated,
                        ["probe_fork"] = run.ProbeFork,
                        ["stop_reason"] = run.StopReason,
                    }).ToArray()),
                }).ToArray()),
            }, json);
        }
        return 0;
    }

    /// <summary>
    /// One sweep over the runs of one schedule and budget with every LR advancing together (<see cref="SideBySideSweep{TKey}"/>):
    /// each run has a <see cref="TrainingMonitor"/> of its own (no prior, no early stopping of its own) and every
    /// <paramref name="checkEvery"/> of the budget each run still going reports its latest forecast; the runs the sweep
    /// stops end there. No run has finished before the others, so none gives a prior or a reference; a run's decay
    /// evidence before its own decay can only be a cooldown probe, which <paramref name="probeFor"/> gives (null: none).
    /// </summary>
    public static GroupResult ReplaySideBySide(IReadOnlyList<SchaippRun> group, double margin, double refitFraction, double checkEvery, LossCurveLaw? law = null,
        Func<SchaippRun, CooldownProbe?>? probeFor = null)
    {
        var clock = Stopwatch.StartNew();
        var runs = group.OrderBy(r => r.PeakLearningRate).ToList();
        long total = runs[0].TotalSteps;
        if (runs.Any(r => r.TotalSteps != total)) throw new ArgumentException("The runs of a side-by-side sweep share one budget.");
        var monitors = runs.Select(run => new TrainingMonitor(run.LearningRates, run.TotalSteps, MonitorOptions(run, refitFraction, law))).ToList();
        try
        {
            var logged = runs.Select(r => r.StepLosses()).ToList();
            var probes = runs.Select(r => probeFor?.Invoke(r)).ToList();
            var checks = SideBySideSweep<double>.CheckSteps(total, checkEvery).ToHashSet();
            var sweep = new SideBySideSweep<double>(margin);
            var taken = runs.Select(r => (long)r.TotalSteps).ToArray();
            var forecasts = new int[runs.Count];
            var calibrated = new int[runs.Count];
            var going = Enumerable.Range(0, runs.Count).ToHashSet();
            for (long step = 0; step < total && going.Count > 0; step++)
            {
                foreach (int i in going)
                {
                    if (probes[i] is { } probe && probe.ForkStep == step) monitors[i].AddProbe(probe);
                    if (!monitors[i].OnStepEnd(step, logged[i][step]).HasFlag(TrainingSignal.Forecast)) continue;
                    forecasts[i]++;
                    if (monitors[i].LatestForecast is { Calibrated: true }) calibrated[i]++;
                }
                if (!checks.Contains(step)) continue;
                foreach (int i in going.Where(i => monitors[i].Forecasts.Count > 0)) sweep.Report(runs[i].PeakLearningRate, monitors[i].Forecasts[^1]);
                foreach (double rate in sweep.Check())
                {
                    int i = runs.FindIndex(r => r.PeakLearningRate == rate);
                    taken[i] = step + 1;
                    going.Remove(i);
                }
            }
            var results = runs.Select((run, i) => new RunResult(run.PeakLearningRate, taken[i], run.FinalValidationLoss,
                sweep.Stopped.TryGetValue(run.PeakLearningRate, out var reason) ? reason : null, null, false, forecasts[i], calibrated[i])
            { ProbeFork = probes[i]?.ForkStep }).ToList();
            return Score(runs, results, clock);
        }
        finally
        {
            foreach (var monitor in monitors) monitor.Dispose();
        }
    }

    /// <summary>
    /// The cooldown probe the grid holds for a WSD run: the grid's WSD runs branch from the constant run of their peak LR, so the
    /// shortest 10% cooldown at that peak with a shorter budget is a probe forked from the constant run (<see cref="ProbeBenchmark.Probe"/>),
    /// and so from this run, when the probe ends before this run's own decay begins and this run's logged losses up to there
    /// are the constant run's. Null otherwise (a cosine or constant run, the shortest budget, a decay that begins first).
    /// </summary>
    internal static CooldownProbe? GridProbe(SchaippRun run, IReadOnlyList<SchaippRun> grid)
    {
        if (run.LearningRates is not WsdSchedule wsd) return null;
        var constant = grid.SingleOrDefault(r => r.Schedule == "constant" && r.PeakLearningRate == run.PeakLearningRate);
        var source = grid.Where(r => r.Schedule == "wsd-linear-cd0.1" && r.PeakLearningRate == run.PeakLearningRate && r.TotalSteps < run.TotalSteps).MinBy(r => r.TotalSteps);
        if (constant == null || source == null) return null;
        var probe = ProbeBenchmark.Probe(source, constant);
        long end = probe.ForkStep + probe.LearningRates.Count - 1;
        return end < wsd.DecayStartStep && ProbeBenchmark.FollowsUntil(run, constant, end + 1) ? probe : null;
    }

    // A replayed run's monitor: the run's own fixed schedule (no decay control), refits every `refitFraction` of its budget
    // from the warmup's end.
    private static TrainingMonitorOptions MonitorOptions(SchaippRun run, double refitFraction, LossCurveLaw? law) => new()
    {
        Forecaster = new ForecasterOptions
        {
            Law = law ?? LossCurveLaws.Default,
            RefitInterval = (int)Math.Max(10, run.TotalSteps * refitFraction),
            FromStep = run.WarmupSteps,
        },
        DecayControl = null,
        MaxNonFiniteLosses = int.MaxValue, // steps the log skips arrive as NaN
    };

    // The sweep's choice (the lowest final loss among the runs it finished) against the grid's best, and the steps used.
    private static GroupResult Score(IReadOnlyList<SchaippRun> group, List<RunResult> results, Stopwatch clock)
    {
        var byRate = group.ToDictionary(r => r.PeakLearningRate);
        var finished = results.Where(r => r.StopReason == null).ToList();
        double chosen = finished.MinBy(r => r.FinalValidationLoss)!.PeakLearningRate;
        double best = group.MinBy(r => r.FinalValidationLoss)!.PeakLearningRate;
        return new GroupResult(group[0].Schedule, group[0].TotalSteps, chosen, best, byRate[chosen].FinalValidationLoss - byRate[best].FinalValidationLoss,
            results.Sum(r => r.StepsTaken), group.Sum(r => (long)r.TotalSteps), results, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One sweep over the runs of one schedule and budget.</summary>
    public static GroupResult Replay(IReadOnlyList<SchaippRun> group, double margin, string order, double? priorSpread, IReadOnlyList<string>? priorOn, double refitFraction, bool widen = true,
        LossCurveLaw? law = null)
    {
        var clock = Stopwatch.StartNew();
        var byRate = group.ToDictionary(r => r.PeakLearningRate);
        var rates = byRate.Keys.ToList();
        IReadOnlyList<double> sequence = order switch
        {
            "middle-out" => EarlyAbortSweep.MiddleOut(rates),
            "ascending" => rates.Order().ToList(),
            "descending" => rates.OrderDescending().ToList(),
            _ => throw new ArgumentException($"Unknown order '{order}' (one of {string.Join(", ", Orders)})."),
        };
        var sweep = new EarlyAbortSweep(margin, priorSpread ?? EarlyAbortSweep.DefaultPriorSpread, priorOn, widen);
        var results = new List<RunResult>();
        foreach (double rate in sequence)
        {
            var run = byRate[rate];
            var options = MonitorOptions(run, refitFraction, law);
            double? threshold = sweep.Threshold;
            options = sweep.OptionsFor(rate, options);
            if (priorSpread == null) options = options with { Forecaster = options.Forecaster with { Prior = null } };
            using var monitor = new TrainingMonitor(run.LearningRates, run.TotalSteps, options);
            var logged = run.StepLosses();
            int forecasts = 0, calibrated = 0;
            long taken = run.TotalSteps;
            double last = double.NaN;
            for (long step = 0; step < run.TotalSteps; step++)
            {
                if (double.IsFinite(logged[step])) last = logged[step];
                var signal = monitor.OnStepEnd(step, logged[step]);
                if (signal.HasFlag(TrainingSignal.Forecast))
                {
                    forecasts++;
                    if (monitor.LatestForecast is { Calibrated: true }) calibrated++;
                }
                if (signal.HasFlag(TrainingSignal.Stop))
                {
                    taken = step + 1;
                    break;
                }
            }
            // A finished run's final loss on the monitor's scale: its last logged validation loss.
            sweep.Record(rate, monitor, taken, last);
            results.Add(new RunResult(rate, taken, run.FinalValidationLoss, monitor.StopReason, threshold, options.Forecaster.Prior != null, forecasts, calibrated));
        }
        return Score(group, results, clock);
    }
}
