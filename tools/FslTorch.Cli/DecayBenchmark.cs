using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Cli.Commands;
using MathNet.Numerics.Interpolation;

namespace FslTorch.Cli;

/// <summary>
/// Replays real runs through <see cref="TrainingMonitor"/> itself with the library defaults, no training: every
/// step of the constant run arrives in order as if training at that peak with budget T (its validation loss at
/// the logged steps, warmup included, nothing in between), with the monitor set up as <c>fsl watch</c> sets it up
/// for that log (<see cref="WatchCommand"/>: fits from the end of the warmup, refits every 2% of the budget); its
/// controller decides when a linear cooldown to 0 at T starts; the grid of real WSD runs says what that cost.
/// </summary>
internal static class DecayBenchmark
{
    /// <summary>
    /// The prior's spread (log-space standard deviation) on the decay-response parameters: 0.02 keeps the live
    /// run's warmup from moving them; with 0.1 the mean forecast error was 0.0133 (README).
    /// </summary>
    public const double PriorSpread = 0.02;

    /// <param name="Regret">The final loss of the grid run nearest the chosen fraction, above the grid's best.</param>
    /// <param name="InterpolatedRegret">The chosen fraction's final loss read off the line between the two grid runs around it, above the
    /// grid's best (the nearest run's outside the grid): where the final loss is convex in the fraction the line lies on or above the curve,
    /// so this errs towards a larger regret (on the 124M grid each inner run lies on or below the line between its neighbours at 46 of 48,
    /// the other two 0.0006 and 0.0008 above it).</param>
    internal sealed record Cell(double PeakLearningRate, int TotalSteps, long DecayStartStep, double ChosenFraction, double Regret, double InterpolatedRegret,
        double Forecast, double Observed, double ForecastError, int Refits, double Seconds, IReadOnlyDictionary<double, double> GridFinalLoss);

    /// <param name="priorFolder">When given, each peak's calibration fit is written there as <c>prior-PEAK.json</c>
    /// and each cell prints the <c>fsl watch</c> command that makes the same decision from its log.</param>
    public static int Run(string folder, string? json, TextWriter output, DecayControllerOptions? options = null, LossCurveLaw? law = null,
        IReadOnlyList<double>? peaks = null, string? priorFolder = null)
    {
        law ??= LossCurveLaws.Default;
        var runs = SchaippDataset.Load(folder, output);
        var cells = new List<Cell>();
        var priors = new Dictionary<double, FitResult>();
        foreach (double peak in peaks ?? SchaippDataset.Peaks(runs))
        {
            if (Budgets(runs, peak, output) is not { } budgets) continue;
            foreach (int total in budgets)
            {
                var grid = Grid(runs, peak, total)!;
                string? priorFile = priorFolder == null ? null : Path.Combine(priorFolder, string.Create(CultureInfo.InvariantCulture, $"prior-{peak}.json"));
                if (!priors.TryGetValue(peak, out var calibration))
                {
                    calibration = Calibration(runs, peak, law);
                    priors[peak] = calibration;
                    if (priorFile != null) calibration.SaveParameters(priorFile);
                }
                var constant = SchaippDataset.Constant(runs, peak);
                var cell = Replay(constant, total, calibration, grid, options);
                cells.Add(cell);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"peak {peak,-7} T {total,6}  chosen {cell.ChosenFraction:F3}  regret {cell.Regret:F4} (interpolated {cell.InterpolatedRegret:F4})  forecast {cell.Forecast:F4} observed {cell.Observed:F4} error {cell.ForecastError:F4}  ({cell.Refits} refits, {cell.Seconds:F1} s)"));
                if (priorFile != null)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  the same decision (decay from step {cell.DecayStartStep}) from the log: fsl watch {Path.Combine(folder, constant.File)} --total-steps {total} --plan {PlanSpec(constant, total)} --law {law.Name} --prior {priorFile} --prior-spread {PriorSpread} --until-step {cell.DecayStartStep}"));
                }
            }
        }
        if (cells.Count == 0) throw new ArgumentException($"{folder}: no peak LR with a constant run, a 20% cooldown run to calibrate on and a grid of cooldowns at a longer budget.");
        // The fixed fractions every cell's grid has, as baselines.
        var common = cells.Select(c => c.GridFinalLoss.Keys).Aggregate((a, b) => a.Intersect(b).ToList()).Order().ToList();
        var baselines = common.ToDictionary(f => f, f => cells.Select(c => c.GridFinalLoss[f] - c.GridFinalLoss.Values.Min()).ToList());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"controller: mean regret {cells.Average(c => c.Regret):F4}, max {cells.Max(c => c.Regret):F4} (between grid runs interpolated: mean {cells.Average(c => c.InterpolatedRegret):F4}, max {cells.Max(c => c.InterpolatedRegret):F4}); mean forecast error {cells.Average(c => c.ForecastError):F4}"));
        foreach (var (fraction, regrets) in baselines)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fixed {fraction,-4}: mean regret {regrets.Average():F4}, max {regrets.Max():F4}"));
        }
        if (json != null)
        {
            var root = new JsonObject
            {
                ["cells"] = new JsonArray(cells.Select(c => (JsonNode)new JsonObject
                {
                    ["peak_lr"] = c.PeakLearningRate,
                    ["total_steps"] = c.TotalSteps,
                    ["chosen_fraction"] = c.ChosenFraction,
                    ["regret"] = c.Regret,
                    ["interpolated_regret"] = c.InterpolatedRegret,
                    ["forecast"] = c.Forecast,
                    ["observed"] = c.Observed,
                    ["forecast_error"] = c.ForecastError,
                }).ToArray()),
                ["mean_regret"] = cells.Average(c => c.Regret),
                ["max_regret"] = cells.Max(c => c.Regret),
                ["mean_interpolated_regret"] = cells.Average(c => c.InterpolatedRegret),
                ["max_interpolated_regret"] = cells.Max(c => c.InterpolatedRegret),
                ["mean_forecast_error"] = cells.Average(c => c.ForecastError),
                ["baselines"] = new JsonObject(baselines.Select(b => KeyValuePair.Create(
                    string.Create(CultureInfo.InvariantCulture, $"fixed-{b.Key}"),
                    (JsonNode?)new JsonObject { ["mean_regret"] = b.Value.Average(), ["max_regret"] = b.Value.Max() }))),
            };
            Report.WriteJson(root, json);
        }
        return 0;
    }

    /// <summary>
    /// The budgets of a peak's cells, ascending: those at which the grid has linear cooldowns of two or more fractions,
    /// longer than the shortest 20% cooldown (a calibration run, <see cref="Calibration"/>) and no longer than the constant
    /// run the replay follows. Null, with a line, when the peak has no constant run or no calibration runs. (On the 124M
    /// grid: 25k, 35k and 50k steps; only 50k at 1e-4, whose shortest runs are 25k steps long.)
    /// </summary>
    public static IReadOnlyList<int>? Budgets(IReadOnlyList<SchaippRun> runs, double peak, TextWriter output)
    {
        int calibration, longest;
        try
        {
            longest = SchaippDataset.Constant(runs, peak).TotalSteps;
            _ = SchaippDataset.SchedulesProtocol(runs, peak); // throws when the peak lacks a run of it
            calibration = runs.Where(r => r.Schedule == "wsd-linear-cd0.2" && SchaippDataset.SamePeak(r, peak)).Min(r => r.TotalSteps);
        }
        catch (InvalidDataException e)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"skipped: peak {peak}: {e.Message}"));
            return null;
        }
        return runs.Where(r => IsLinearCooldown(r) && SchaippDataset.SamePeak(r, peak) && r.TotalSteps > calibration && r.TotalSteps <= longest)
            .Select(r => r.TotalSteps).Distinct().Order().Where(total => Grid(runs, peak, total) != null).ToList();
    }

    /// <summary>The real linear-cooldown WSD runs of a cell by cooldown fraction (null when the grid has fewer than two).</summary>
    public static IReadOnlyDictionary<double, SchaippRun>? Grid(IReadOnlyList<SchaippRun> runs, double peak, int total)
    {
        var grid = new SortedDictionary<double, SchaippRun>(runs.Where(r => IsLinearCooldown(r) && SchaippDataset.SamePeak(r, peak) && r.TotalSteps == total)
            .GroupBy(r => r.CooldownFraction).ToDictionary(g => g.Key, g => g.First()));
        return grid.Count >= 2 ? grid : null;
    }

    private static bool IsLinearCooldown(SchaippRun run) => run.Schedule.StartsWith("wsd-linear-cd", StringComparison.Ordinal) && run.CooldownFraction > 0;

    /// <summary>The prior of a peak's cells: the law fitted to the two calibration runs of the schedules protocol (a WSD and a cut cosine run).</summary>
    public static FitResult Calibration(IReadOnlyList<SchaippRun> runs, double peak, LossCurveLaw law) =>
        LawFitter.Fit(law, SchaippDataset.SchedulesProtocol(runs, peak).Fit.Skip(1).ToList());

    /// <summary>The plan a cell starts from, as a schedule spec: WSD with the run's warmup from peak/100 and a 5% linear cooldown to 0.</summary>
    public static string PlanSpec(SchaippRun constant, int total) => string.Create(CultureInfo.InvariantCulture,
        $"wsd:peak={constant.PeakLearningRate},warmup={constant.WarmupSteps},warmup_from=0.01,total={total},decay_start={total - (long)Math.Floor(0.05 * total)}");

    /// <summary>
    /// The final validation loss at cooldown fraction <paramref name="fraction"/>, linear between the grid runs around it
    /// (the nearest run's outside the grid).
    /// </summary>
    public static double Interpolated(IReadOnlyDictionary<double, SchaippRun> grid, double fraction)
    {
        var fractions = grid.Keys.Order().ToArray();
        var line = LinearSpline.InterpolateSorted(fractions, fractions.Select(f => grid[f].FinalValidationLoss).ToArray());
        return line.Interpolate(Math.Clamp(fraction, fractions[0], fractions[^1]));
    }

    public static Cell Replay(SchaippRun constant, int total, FitResult calibration, IReadOnlyDictionary<double, SchaippRun> grid, DecayControllerOptions? options)
    {
        var clock = Stopwatch.StartNew();
        double peak = constant.PeakLearningRate;
        var initial = (WsdSchedule)Schedule.Parse(PlanSpec(constant, total));
        var law = calibration.Law;
        // As fsl watch sets the monitor up for this log (the band left out: it plays no part in the decision, and the
        // gain's uncertainty has its own draws).
        var watched = WatchCommand.MonitorOptions(law, initial, total, ParameterPrior.FromFit(calibration, PriorSpread, law.DecayResponseParameters), options);
        int interval = watched.Forecaster.RefitInterval!.Value;
        using var monitor = new TrainingMonitor(initial, total, watched with { Forecaster = watched.Forecaster with { BandSamples = 0 } });
        var logged = constant.StepLosses(); // NaN where no loss is logged
        Forecast? atStart = null;
        for (long step = 0; step < total && atStart == null; step++)
        {
            monitor.OnStepEnd(step, logged[step]); // the LR of the step from the schedule in force
            if (monitor.Controller!.Decisions.Any(d => d.StartNow) || ((WsdSchedule)monitor.Schedule).HasDecayBegun(step + 1)) atStart = monitor.LatestForecast;
        }
        long start = ((WsdSchedule)monitor.Schedule).DecayStartStep;
        var fitAtStart = (atStart ?? monitor.LatestForecast)!.Fit;
        double fraction = (double)(total - start) / total;
        double nearest = grid.Keys.MinBy(f => Math.Abs(f - fraction));
        double best = grid.Values.Min(r => r.FinalValidationLoss);
        var gridRun = grid[nearest];
        // The grid run's last regular loss (200 steps before T on the 124M grid), where the forecast is scored.
        int probe = gridRun.Curve.Steps[^1];
        double observedLoss = gridRun.Curve.Losses[^1];
        double forecast = fitAtStart.Predict(initial.WithDecayStart(start).Sample(total), [probe])[0];
        int refits = (int)(Math.Min(total, start) / interval);
        return new Cell(peak, total, start, fraction, gridRun.FinalValidationLoss - best, Interpolated(grid, fraction) - best, forecast, observedLoss, Math.Abs(forecast - observedLoss),
            refits, clock.Elapsed.TotalSeconds, grid.ToDictionary(g => g.Key, g => g.Value.FinalValidationLoss));
    }
}
