using FslTorch;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Cli.Commands;

/// <summary>
/// <c>fsl watch</c>: follows a log another process is writing, refits with the same forecaster and controller as
/// <see cref="TrainingMonitor"/>, and keeps a decision file that the trainer polls up to date.
/// </summary>
internal static class WatchCommand
{
    public static Command Create()
    {
        var log = new Argument<string>("log") { Description = "The log the trainer writes, in any format of --format: a step,lr,loss CSV or JSON Lines file it appends to, a trainer_state.json it rewrites, or a TensorBoard event file or folder." };
        var totalSteps = new Option<long>("--total-steps") { Description = "The budget N.", Required = true };
        var peak = new Option<double?>("--peak-lr") { Description = "The peak LR of the planned WSD schedule (with --warmup; a 20% linear cooldown to 0)." };
        var warmup = new Option<long>("--warmup") { Description = "Warmup steps of the planned schedule.", DefaultValueFactory = _ => 0 };
        var plan = new Option<string?>("--plan") { Description = "The planned schedule as a WSD spec instead (e.g. wsd:peak=3e-4,warmup=2000,total=24000,decay=0.2)." };
        var decisions = new Option<string>("--decisions") { Description = "The decision file the trainer polls (JSON, replaced atomically).", DefaultValueFactory = _ => "decisions.json" };
        var law = new Option<string?>("--law") { Description = "The law of the forecasts (the library default otherwise)." };
        var prior = new Option<string?>("--prior") { Description = "A parameter file (fsl fit of calibration runs) for the decay-response prior." };
        var priorSpread = new Option<double>("--prior-spread") { Description = "The prior's standard deviation in log units on the decay-response parameters (with --prior).", DefaultValueFactory = _ => 0.1 };
        var interval = new Option<double>("--interval") { Description = "Seconds between reads of the log.", DefaultValueFactory = _ => 2 };
        var untilStep = new Option<long?>("--until-step") { Description = "Stop once the log reached this step (default: the last step, N − 1)." };
        var timeout = new Option<double?>("--timeout") { Description = "Stop after this many seconds." };
        var probes = new Option<string[]>("--probe")
        {
            Description = "A cooldown probe the trainer ran beside the run (a short decay on a copy of model and optimizer state): a step,lr,loss CSV of every one of its steps, numbered as the run's from the step it forked at. Its losses are fitted with the run's from the step the log passes its fork, as decay evidence. Repeat for several.",
            AllowMultipleArgumentsPerToken = true,
        };
        var logFormats = new LogFormats.Options();
        var command = new Command("watch", "Follows a growing log, refits as it grows, and writes the decay decision a trainer polls.")
            { log, totalSteps, peak, warmup, plan, decisions, law, prior, priorSpread, interval, untilStep, timeout, probes };
        foreach (var option in logFormats.All) command.Options.Add(option);
        command.SetAction(parse => CommandSupport.Run(() =>
        {
            long n = parse.GetValue(totalSteps);
            var planned = Plan(parse.GetValue(plan), parse.GetValue(peak), parse.GetValue(warmup), n);
            string decisionFile = parse.GetValue(decisions)!;
            CurveFiles.CheckWritable(decisionFile, "--decisions");
            double seconds = parse.GetValue(interval);
            if (!(seconds > 0)) throw new ArgumentException($"--interval must be > 0; got {seconds}.");
            var chosenLaw = parse.GetValue(law) is string name ? Protocol.Law(name) : LossCurveLaws.Default;
            double spread = CommandSupport.PriorSpread(parse, priorSpread);
            var chosenPrior = parse.GetValue(prior) is string file ? ParameterPrior.FromFile(file, chosenLaw, spread) : BuiltInPrior(chosenLaw);
            var options = MonitorOptions(chosenLaw, planned, n, chosenPrior);
            long until = parse.GetValue(untilStep) ?? n - 1;
            if (until < 0 || until > n - 1) throw new ArgumentException($"--until-step must lie in [0, {n - 1}] (the budget's steps); got {until}.");
            var probed = (parse.GetValue(probes) ?? []).Select(file => ReadProbe(file, n)).ToList();
            return new Watcher(parse.GetValue(log)!, logFormats.Read(parse), planned, n, options, decisionFile, seconds, until, parse.GetValue(timeout), probed).Run();
        }));
        return command;
    }

    /// <summary>
    /// The monitor a watcher of a log of a run with budget <paramref name="total"/> runs (<c>fsl bench decay</c> replays
    /// the 124M runs through the same): fits from the end of <paramref name="plan"/>'s warmup, refits at a fixed 2% of
    /// the budget (the watcher sees the trainer's steps in bursts, so there is no loop time to adapt to), and steps the
    /// log skips count as steps without a loss.
    /// </summary>
    public static TrainingMonitorOptions MonitorOptions(LossCurveLaw law, WsdSchedule plan, long total, ParameterPrior? prior, DecayControllerOptions? control = null) => new()
    {
        Forecaster = new ForecasterOptions
        {
            Law = law,
            RefitInterval = (int)Math.Max(10, total / 50),
            FromStep = plan.WarmupSteps,
            Prior = prior,
        },
        DecayControl = control ?? new DecayControllerOptions(),
        MaxNonFiniteLosses = int.MaxValue, // steps the log skips are passed as NaN
    };

    /// <summary>The law's built-in prior, or none for a law without built-in defaults.</summary>
    public static ParameterPrior? BuiltInPrior(LossCurveLaw law)
    {
        try
        {
            return ParameterPrior.BuiltIn(law);
        }
        catch (ArgumentException)
        {
            return null; // a law without built-in defaults fits its decay response from the log alone
        }
    }

    private static WsdSchedule Plan(string? spec, double? peak, long warmup, long n)
    {
        if (spec != null)
        {
            var parsed = Schedule.Parse(spec) as WsdSchedule ?? throw new ArgumentException($"--plan {spec}: the watcher moves a WSD decay start; give a wsd: spec.");
            if (parsed.TotalSteps != n) throw new ArgumentException($"--plan {spec}: its total ({parsed.TotalSteps}) differs from --total-steps ({n}).");
            return parsed;
        }
        double rate = peak ?? throw new ArgumentException("Give --peak-lr (and --warmup), or --plan.");
        return new WsdSchedule(rate, warmup, WsdSchedule.DecayStartForFraction(n, 0.2), n);
    }

    /// <summary>
    /// A cooldown probe from its log: a step,lr,loss CSV with a row for every step from the one it forked at (at least 1)
    /// on, each with its LR (a loss may be missing); the whole probe within the budget of <paramref name="total"/> steps.
    /// Anything else is refused with an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static CooldownProbe ReadProbe(string path, long total)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--probe {path}: no such file.");
        var rows = ObservedCurve.CsvRows(path, requireLearningRate: true);
        if (rows.Count < 2) throw new InvalidDataException($"--probe {path}: a probe needs at least two steps; the file has {rows.Count}.");
        long fork = rows[0].Step;
        for (int i = 1; i < rows.Count; i++)
        {
            if (rows[i].Step != fork + i)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"--probe {path}, {rows[i].Where}: step {rows[i].Step} where {fork + i} comes next; a probe's log has every one of its steps."));
            }
        }
        if (fork < 1 || fork + rows.Count > total)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"--probe {path}: steps {fork}..{fork + rows.Count - 1} do not lie within the run's steps 1..{total - 1}."));
        }
        var probe = new CooldownProbe(fork, rows.Select(r => r.LearningRate!.Value).ToList(), rows.Select(r => r.Loss ?? double.NaN).ToList());
        probe.Validate();
        return probe;
    }

    private sealed class Watcher(string path, LogFormats formats, WsdSchedule plan, long total, TrainingMonitorOptions options, string decisionFile, double interval, long untilStep, double? timeout,
        IReadOnlyList<CooldownProbe> probes)
    {
        private TrainingMonitor _monitor = new(plan, total, options);
        private long _next;             // the next step to give the monitor
        private string? _written;

        public int Run()
        {
            var clock = Stopwatch.StartNew();
            bool waited = false;
            while (true)
            {
                if (File.Exists(path) || Directory.Exists(path)) Poll();
                else if (!waited)
                {
                    Console.WriteLine($"fsl watch: waiting for {path} to appear");
                    waited = true;
                }
                if (_next > untilStep || _monitor.StopReason != null)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fsl watch: done at step {_next - 1}; decision in {decisionFile}"));
                    return 0;
                }
                if (timeout is double limit && clock.Elapsed.TotalSeconds >= limit)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fsl watch: --timeout {limit:0.#} s reached at step {_next - 1}; decision in {decisionFile}"));
                    return 0;
                }
                Thread.Sleep(TimeSpan.FromSeconds(interval));
            }
        }

        private void Poll()
        {
            IReadOnlyList<LogRow> rows;
            try
            {
                // A line the writer has not finished (no newline yet) may hold a cut number: it waits for the next poll.
                rows = formats.FollowRows(path);
            }
            catch (IOException)
            {
                return; // the writer holds the file this instant: next poll
            }
            if (rows.Count > 0 && rows[^1].Step < _next - 1)
            {
                // The log went back: truncated or replaced by a new run. Start over.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fsl watch: {path} now ends at step {rows[^1].Step}, before step {_next - 1}: truncated or rotated; starting over"));
                _monitor.Dispose();
                _monitor = new TrainingMonitor(plan, total, options);
                _next = 0;
            }
            foreach (var row in rows)
            {
                if (row.Step < _next) continue;
                // Steps the log skipped carry no loss; the monitor still counts them (refit steps, decisions). Nothing
                // after --until-step (at most the budget's last step) is read: a log already past it ends the watch there.
                for (; _next < row.Step && _next <= untilStep; _next++) Step(_next, double.NaN);
                if (row.Step > untilStep) break;
                Step(row.Step, row.Loss ?? double.NaN);
                _next = row.Step + 1;
            }
        }

        private void Step(long step, double loss)
        {
            // A probe forked before this step's update, as the trainer forked it (also again after the log started over).
            foreach (var probe in probes.Where(p => p.ForkStep == step)) _monitor.AddProbe(probe);
            var signal = _monitor.OnStepEnd(step, loss);
            if (signal.HasFlag(TrainingSignal.Forecast)) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}: forecast {_monitor.LatestForecast!.Describe()}"));
            if (signal.HasFlag(TrainingSignal.Decision))
            {
                var decision = _monitor.Controller!.Decisions[^1];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}: {(decision.StartNow ? "start the decay now" : "wait")} (decay start {decision.DecayStartStep}): {decision.Reason}"));
            }
            if (signal != TrainingSignal.None) Write(step);
        }

        private void Write(long step)
        {
            var forecast = _monitor.LatestForecast;
            var decision = _monitor.Controller?.Decisions.LastOrDefault();
            string json = JsonSerializer.Serialize(new
            {
                step,
                decay_start_step = ((WsdSchedule)_monitor.Schedule).DecayStartStep,
                stop = _monitor.StopReason != null,
                reason = decision?.Reason,
                forecast = forecast == null ? null : new { made_at = forecast.Step, final_loss = forecast.FinalLoss, lower = forecast.Lower, upper = forecast.Upper, calibrated = forecast.Calibrated },
            }, new JsonSerializerOptions { WriteIndented = true });
            if (json == _written) return;
            AtomicFile.WriteAllText(decisionFile, json);
            _written = json;
        }
    }
}
