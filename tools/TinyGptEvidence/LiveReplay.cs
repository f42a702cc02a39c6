using System.Text.Json;
using FslTorch.Control;
using FslTorch.Fitting;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// Replays a finished TinyGpt run's logged losses (and its cooldown probes, from its last checkpoint) through a
/// <see cref="TrainingMonitor"/> built as the run built it, without training: the forecasts it would make at
/// 25/50/75% of the budget, in seconds instead of the run's minutes. The decay controller is left out and the plan
/// is kept (a replay cannot know the losses of a schedule the run did not take), and refits come at a fixed
/// interval (a live run stretches it to its measured fit time), so the forecasts are made at other steps than the
/// run's own; replays compare forecasting choices side by side on the same runs.
/// </summary>
public static class LiveReplay
{
    /// <summary>
    /// The forecasts of the replay of <paramref name="runFolder"/>, refitting every <paramref name="refitInterval"/>
    /// steps; <paramref name="adjust"/> changes the forecaster's options (null: as the run had them);
    /// <paramref name="probeFractions"/> keeps only the run's probes that forked at these fractions of its budget
    /// (null: all of them), to compare probe plans on the same runs; <paramref name="probesFrom"/> takes the probes of
    /// another run folder instead (see <see cref="BorrowedProbes"/>).
    /// </summary>
    public static IReadOnlyList<ForecastCheck> Forecasts(string runFolder, int refitInterval, Func<ForecasterOptions, ForecasterOptions>? adjust = null,
        IReadOnlyList<double>? probeFractions = null, string? probesFrom = null) => Forecasts(runFolder, refitInterval, null, adjust, probeFractions, probesFrom);

    /// <summary>
    /// As <see cref="Forecasts(string, int, Func{ForecasterOptions, ForecasterOptions}?, IReadOnlyList{double}?, string?)"/>, refitting
    /// at the steps the run itself refitted at (those of its <c>forecasts.jsonl</c>), each fit warm-started from the one
    /// before as in the run: a live run's adaptive interval made them, and which fit a refit lands in can depend on them.
    /// </summary>
    public static IReadOnlyList<ForecastCheck> ForecastsAtTheRunsSteps(string runFolder, Func<ForecasterOptions, ForecasterOptions>? adjust = null,
        IReadOnlyList<double>? probeFractions = null, string? probesFrom = null) =>
        ForecastsAtSteps(runFolder, ForecastSteps(runFolder), adjust, probeFractions, probesFrom);

    /// <summary>
    /// As <see cref="ForecastsAtTheRunsSteps"/>, refitting at <paramref name="refitSteps"/> instead (a refit plan the run
    /// did not follow, e.g. another build's adaptive interval), each fit warm-started from the one before.
    /// </summary>
    public static IReadOnlyList<ForecastCheck> ForecastsAtSteps(string runFolder, IReadOnlyList<long> refitSteps,
        Func<ForecasterOptions, ForecasterOptions>? adjust = null, IReadOnlyList<double>? probeFractions = null, string? probesFrom = null) =>
        Forecasts(runFolder, 0, refitSteps, adjust, probeFractions, probesFrom);

    /// <summary>
    /// Every forecast of the replay of <paramref name="runFolder"/> refitting at <paramref name="refitSteps"/> (each fit
    /// warm-started from the one before), oldest first; a step where no forecast could be made (too early, a failed fit)
    /// has none. Nothing is written into the run folder. <paramref name="adjust"/> changes the forecaster's options (null: as
    /// the run had them).
    /// </summary>
    public static IReadOnlyList<Forecast> ForecastSeries(string runFolder, IReadOnlyList<long> refitSteps,
        Func<ForecasterOptions, ForecasterOptions>? adjust = null) =>
        Replay(runFolder, 0, refitSteps, adjust, null, null);

    private static IReadOnlyList<ForecastCheck> Forecasts(string runFolder, int refitInterval, IReadOnlyList<long>? refitSteps,
        Func<ForecasterOptions, ForecasterOptions>? adjust, IReadOnlyList<double>? probeFractions, string? probesFrom)
    {
        var made = Replay(runFolder, refitInterval, refitSteps, adjust, probeFractions, probesFrom);
        long total = RunFolder.ReadConfig(runFolder).Steps;
        // Every forecast of the replay, for side-by-side study of the forecasting choices (replay-forecasts.jsonl).
        File.WriteAllLines(Path.Combine(runFolder, "replay-forecasts.jsonl"), made.Select(RunFolder.ForecastLine));
        return RunSummary.CheckedFractions
            .Select(fraction => (fraction, forecast: made.LastOrDefault(f => f.Step < fraction * total)))
            .Where(x => x.forecast != null)
            .Select(x => new ForecastCheck(x.fraction, x.forecast!.Step, x.forecast.FinalLoss, x.forecast.Lower, x.forecast.Upper, x.forecast.FinalLoss)
            {
                Calibrated = x.forecast.Calibrated,
                SmoothingLag = x.forecast.SmoothingLag,
            }).ToList();
    }

    private static List<Forecast> Replay(string runFolder, int refitInterval, IReadOnlyList<long>? refitSteps,
        Func<ForecasterOptions, ForecasterOptions>? adjust, IReadOnlyList<double>? probeFractions, string? probesFrom)
    {
        var settings = RunFolder.ReadConfig(runFolder);
        long total = settings.Steps;
        var schedule = RunSchedule.Build(settings);
        var options = RunSchedule.MonitorOptions(settings);
        // At given steps the forecaster keeps the run's own options (its refit interval also sets the hindcast's and the
        // decay evidence's windows) and is never stepped: the replay records the losses and asks for each refit.
        var forecaster = refitSteps == null ? options.Forecaster with { RefitInterval = refitInterval } : options.Forecaster;
        options = options with { Forecaster = adjust?.Invoke(forecaster) ?? forecaster, DecayControl = null };
        var probes = probesFrom == null ? Probes(runFolder, settings, probeFractions) : BorrowedProbes(runFolder, probesFrom, probeFractions);
        using var monitor = new TrainingMonitor(schedule, total, options);
        var made = new List<Forecast>();
        var at = refitSteps?.ToHashSet();
        foreach (var (step, loss) in Losses(Path.Combine(runFolder, "losses.csv")))
        {
            if (step >= total) break;
            foreach (var probe in probes.Where(p => p.ForkStep == step)) monitor.AddProbe(probe);
            if (at == null)
            {
                if (monitor.OnStepEnd(step, loss).HasFlag(TrainingSignal.Forecast) && monitor.LatestForecast is { } forecast) made.Add(forecast);
                continue;
            }
            monitor.Tracker.Record(step, schedule.GetLearningRate(step), loss);
            if (at.Contains(step) && monitor.Forecaster.ForecastNow(step) is { } now) made.Add(now);
        }
        return made;
    }

    /// <summary>
    /// The decay controller's decisions on the replay of a controlled run, up to and including its first move of the
    /// decay start (the losses after a move belong to a schedule the run did not take, so the replay stops there) or
    /// the planned start. <paramref name="adjust"/> changes the controller's options (null: as the run had them).
    /// A fixed WSD run is replayed as if it were controlled (until a move its losses are those of a controlled run with
    /// the same plan); null for a run whose schedule is not a WSD.
    /// </summary>
    public static DecisionReplay? Decisions(string runFolder, int refitInterval, Func<DecayControllerOptions, DecayControllerOptions>? adjust = null,
        IReadOnlyList<double>? probeFractions = null)
    {
        var settings = RunFolder.ReadConfig(runFolder);
        long total = settings.Steps;
        var options = RunSchedule.MonitorOptions(settings);
        if (RunSchedule.Build(settings) is not FslTorch.Schedules.WsdSchedule plan) return null;
        // A fixed WSD run is replayed as if controlled: until a move its losses are those of a controlled run with its plan.
        var control = options.DecayControl ?? new DecayControllerOptions();
        options = options with
        {
            Forecaster = options.Forecaster with { RefitInterval = refitInterval },
            DecayControl = adjust?.Invoke(control) ?? control,
        };
        var probes = Probes(runFolder, settings, probeFractions);
        using var monitor = new TrainingMonitor(plan, total, options);
        foreach (var (step, loss) in Losses(Path.Combine(runFolder, "losses.csv")))
        {
            if (step >= plan.DecayStartStep || step >= total) break;
            foreach (var probe in probes.Where(p => p.ForkStep == step)) monitor.AddProbe(probe);
            var signal = monitor.OnStepEnd(step, loss);
            if (signal.HasFlag(TrainingSignal.ScheduleChanged) || monitor.Controller!.Decisions.LastOrDefault() is { StartNow: true })
            {
                return new DecisionReplay(plan.DecayStartStep, total, monitor.Controller!.Decisions, Moved: true);
            }
        }
        return new DecisionReplay(plan.DecayStartStep, total, monitor.Controller!.Decisions, Moved: false);
    }

    /// <summary>
    /// The cooldown probes of <paramref name="donorFolder"/> that forked at <paramref name="fractions"/> of its budget
    /// (null: all of them), for the replay of <paramref name="runFolder"/>: what a run made without probes would have
    /// forked, when both runs logged the same loss at every step before each probe's fork (a controlled run and a fixed WSD
    /// run of the same seed and plan, before any move: the probe left the donor's state as it was). Throws an
    /// <see cref="InvalidDataException"/> when the runs' budgets or losses before a fork differ, or the run has probes of its own.
    /// </summary>
    public static IReadOnlyList<CooldownProbe> BorrowedProbes(string runFolder, string donorFolder, IReadOnlyList<double>? fractions = null)
    {
        var settings = RunFolder.ReadConfig(runFolder);
        if (RunFolder.ReadConfig(donorFolder).Steps != settings.Steps) throw new InvalidDataException($"{donorFolder}: another budget than {runFolder}; its probes are not this run's.");
        if (Probes(runFolder).Count > 0) throw new InvalidDataException($"{runFolder}: the run has cooldown probes of its own.");
        var probes = Probes(donorFolder, settings, fractions);
        if (probes.Count == 0) return probes;
        long last = probes.Max(p => p.ForkStep);
        var own = Losses(Path.Combine(runFolder, "losses.csv")).TakeWhile(row => row.Step < last).ToList();
        var donor = Losses(Path.Combine(donorFolder, "losses.csv")).TakeWhile(row => row.Step < last).ToList();
        if (!own.SequenceEqual(donor))
        {
            throw new InvalidDataException($"{donorFolder}: its losses before step {last} are not those of {runFolder}; its probes are not this run's.");
        }
        return probes;
    }

    // The run's probes that forked at `fractions` of its budget (null: all of them).
    private static List<CooldownProbe> Probes(string runFolder, Settings settings, IReadOnlyList<double>? fractions) =>
        Probes(runFolder).Where(p => fractions == null || fractions.Any(f => settings.ProbeFork(f) == p.ForkStep)).ToList();

    // The cooldown probes the run recorded (its last checkpoint keeps them all). A run that made probes and has lost its
    // checkpoint (run folders copied without it) cannot be replayed: without its probes it would be another run.
    private static IReadOnlyList<CooldownProbe> Probes(string runFolder)
    {
        string file = Path.Combine(runFolder, "checkpoint", "latest", "monitor.json");
        if (!File.Exists(file))
        {
            string summary = Path.Combine(runFolder, "summary.json");
            if (File.Exists(summary) && RunSummary.Read(summary).ProbeSteps > 0)
            {
                throw new InvalidDataException($"{runFolder}: the run made cooldown probes, but {file} (which keeps them) is missing; a replay without them would be another run.");
            }
            return [];
        }
        var state = JsonSerializer.Deserialize<TrainingMonitorState>(File.ReadAllText(file),
            new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        return state?.Forecaster.Probes ?? [];
    }

    // The steps of the forecasts a run logged (forecasts.jsonl), in order.
    private static IReadOnlyList<long> ForecastSteps(string runFolder) =>
        File.ReadLines(Path.Combine(runFolder, "forecasts.jsonl")).Where(line => line.Length > 0)
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64()).ToList();

    // step and training loss of every row of losses.csv that has one (the library's CSV reader: columns by name).
    private static IEnumerable<(long Step, double Loss)> Losses(string file) =>
        ObservedCurve.CsvRows(file).Where(row => row.Loss != null).Select(row => (row.Step, row.Loss!.Value));
}

/// <summary>
/// The decisions a controller made on the replay of a run (<see cref="LiveReplay.Decisions"/>), up to its first move.
/// </summary>
/// <param name="PlannedStart">The decay start the run planned.</param>
/// <param name="TotalSteps">The budget N.</param>
/// <param name="Decisions">Every decision, oldest first.</param>
/// <param name="Moved">Whether the last decision moved the decay start or started the decay before the plan.</param>
public sealed record DecisionReplay(long PlannedStart, long TotalSteps, IReadOnlyList<DecayDecision> Decisions, bool Moved)
{
    /// <summary>The decay start after the replay: the first move's, or the plan.</summary>
    public long DecayStart => Moved ? Decisions[^1].DecayStartStep : PlannedStart;

    /// <summary>The cooldown that start gives, as a fraction of the budget.</summary>
    public double CooldownFraction => (double)(TotalSteps - DecayStart) / TotalSteps;
}
