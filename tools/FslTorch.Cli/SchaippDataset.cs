using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli;

/// <summary>One run of the 124M schedule grid of Schaipp et al. (ICML 2025), ../shared/data/schaipp-124m.</summary>
/// <param name="Curve">The points fitted and predicted: the regular validation losses after warmup.</param>
/// <param name="Logged">Every logged validation loss before step T, the warmup's included (what a watcher of the log sees).</param>
/// <param name="LearningRates">The run's schedule, rebuilt from the manifest (what a monitor of the run is given).</param>
internal sealed record SchaippRun(string File, string Schedule, double PeakLearningRate, int TotalSteps, int WarmupSteps,
    double CooldownFraction, double FinalValidationLoss, ObservedCurve Curve, ObservedCurve Logged, LearningRateSchedule LearningRates)
{
    /// <summary>
    /// The loss a monitor of the log is given at each step before T, as the replays (<c>bench decay</c>, <c>bench sweep</c>)
    /// feed it: the logged validation loss at its step, NaN at the steps the log skips.
    /// </summary>
    public double[] StepLosses()
    {
        var losses = Enumerable.Repeat(double.NaN, TotalSteps).ToArray();
        for (int i = 0; i < Logged.Steps.Count; i++) losses[Logged.Steps[i]] = Logged.Losses[i];
        return losses;
    }
}

/// <summary>
/// Loads a schedule grid in the layout of Schaipp et al.'s (a <c>manifest.csv</c> with a row per run: file, schedule,
/// base_lr, iterations, warmup, cooldown_frac, cos_final_lr, final_val_loss), with the learning rate of every step rebuilt
/// from the manifest (the logged <c>lr</c> column only covers every 200th step), checked against every logged LR. Points are
/// the regular validation losses after warmup; the row at step T is a final evaluation on a larger set (+0.036 in every
/// run) and is left out. Nothing in it is particular to the 124M grid: the peak LRs, budgets and cooldowns are the
/// manifest's, and a run is left out, with a line to <c>notes</c>, when it diverged (<see cref="Diverged"/>), when its
/// schedule is not one of the grid's kinds, or when its logged LRs are not those its manifest row describes.
/// </summary>
internal static class SchaippDataset
{
    /// <summary>
    /// A run diverged when its last regular loss lies more than this share above its lowest one (the 124M grid's one
    /// diverged run ends at 7.55 after 4.87; every other run ends within 0.001 of its lowest).
    /// </summary>
    public const double DivergedRise = 0.1;

    /// <summary>The manifest columns that tell one model and data set from another: a grid mixes none.</summary>
    private static readonly string[] GroupColumns = ["model", "dataset", "n_layer", "n_head", "n_embd", "batch", "seq_len"];

    /// <summary>The columns a grid's manifest must have.</summary>
    public static readonly string[] RequiredColumns = ["file", "schedule", "base_lr", "iterations", "warmup", "cooldown_frac", "cos_final_lr", "final_val_loss"];

    /// <summary>Whether <paramref name="folder"/> holds a grid manifest (its header has every required column).</summary>
    public static bool IsGrid(string folder) => CurveFiles.ManifestHas(folder, RequiredColumns);

    public static IReadOnlyList<SchaippRun> Load(string folder, TextWriter? notes = null)
    {
        string manifest = Path.Combine(folder, "manifest.csv");
        if (!File.Exists(manifest)) throw new FileNotFoundException($"{manifest} not found: --data must be a schedule grid's folder (e.g. schaipp-124m/ of the shared data).");
        var lines = File.ReadAllLines(manifest).Where(l => l.Length > 0).ToArray();
        var header = lines[0].Split(',').ToList();
        var missing = RequiredColumns.Where(c => !header.Contains(c)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{manifest} has no column {string.Join(", ", missing)}: not a schedule grid's manifest.");
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        string Cell(string[] row, string name) => row[header.IndexOf(name)];
        double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);
        var groupColumns = GroupColumns.Where(header.Contains).ToList();
        var groups = rows.Where(row => row.Length >= header.Count).Select(row => string.Join(" ", groupColumns.Select(c => Cell(row, c)))).Distinct().ToList();
        if (groups.Count > 1)
        {
            throw new InvalidDataException($"{manifest} mixes {groups.Count} models or data sets ({string.Join("; ", groups)}): a grid's runs are fitted together, so give each its own folder.");
        }
        var runs = new List<SchaippRun>();
        foreach (var (row, line) in rows.Select((r, i) => (r, i + 2)))
        {
            if (row.Length < header.Count)
            {
                notes?.WriteLine($"left out line {line} of {manifest}: {row.Length} cells, where the header has {header.Count}");
                continue;
            }
            string name = Cell(row, "file");
            double peak = Number(Cell(row, "base_lr"));
            string schedule = Cell(row, "schedule");
            int total = int.Parse(Cell(row, "iterations"), CultureInfo.InvariantCulture);
            int warmup = int.Parse(Cell(row, "warmup"), CultureInfo.InvariantCulture);
            double cooldown = Number(Cell(row, "cooldown_frac"));
            string finalLr = Cell(row, "cos_final_lr");
            LearningRateSchedule rebuilt;
            try
            {
                rebuilt = Rebuild(schedule, peak, total, warmup, cooldown, finalLr);
            }
            catch (InvalidDataException e)
            {
                notes?.WriteLine($"left out {name}: {e.Message}");
                continue;
            }
            var rates = rebuilt.SampleWithIntrinsicTime(total);
            string file = Path.Combine(folder, name);
            var full = ObservedCurve.FromCsv(file, Path.GetFileNameWithoutExtension(file), rates.Count > 0 ? ExtendByOne(rates) : rates);
            if (Mismatch(file, full.Schedule, total) is { } mismatch)
            {
                notes?.WriteLine($"left out {name}: {mismatch}");
                continue;
            }
            var curve = full.Where(step => step >= warmup && step < total);
            if (Diverged(curve) is { } reason)
            {
                notes?.WriteLine($"left out {name}: {reason}");
                continue;
            }
            runs.Add(new SchaippRun(name, schedule, peak, total, warmup, cooldown, Number(Cell(row, "final_val_loss")), curve,
                full.Where(step => step < total), rebuilt));
        }
        if (runs.Count == 0) throw new InvalidDataException($"{manifest}: no run of the grid could be used.");
        return runs;
    }

    /// <summary>
    /// Why a run's regular losses say it diverged (null when they do not): a loss that is not finite, or a last loss more
    /// than <see cref="DivergedRise"/> above the lowest. Such a run is neither fitted nor predicted.
    /// </summary>
    public static string? Diverged(ObservedCurve curve)
    {
        if (curve.Count == 0) return "no regular loss after its warmup";
        if (curve.Losses.Any(l => !double.IsFinite(l))) return "a loss that is not finite (diverged)";
        double lowest = curve.Losses.Min(), last = curve.Losses[^1];
        return last > (1 + DivergedRise) * lowest
            ? string.Create(CultureInfo.InvariantCulture, $"its loss ends at {last:F4}, more than {DivergedRise * 100:F0}% above its lowest, {lowest:F4} (diverged)")
            : null;
    }

    /// <summary>The schedule of a run, in the convention of the authors' code (verified against every logged LR).</summary>
    public static LearningRateSchedule Rebuild(string schedule, double peak, int total, int warmup, double cooldown, string finalLr)
    {
        if (schedule == "constant" || schedule.StartsWith("wsd-", StringComparison.Ordinal))
        {
            // Linear warmup from peak/100 over W steps; WSD: peak until T − ⌊f·T⌋, then linear (or 1−sqrt) to 0 at T.
            if (schedule == "constant") return Schedule.WithWarmup(Schedule.Constant(peak), warmup, peak / 100);
            var shape = schedule.StartsWith("wsd-sqrt", StringComparison.Ordinal) ? DecayShape.OneMinusSqrt : DecayShape.Linear;
            return new WsdSchedule(peak, warmup, WsdSchedule.DecayStartForFraction(total, cooldown), total, shape, DecayTarget.Zero, peak / 100);
        }
        if (schedule.StartsWith("cosine", StringComparison.Ordinal))
        {
            // Cosine warmup from peak/100 reaching the peak at step W − 1, then cosine with p = (t − W + 1)/(T − W).
            double final = schedule.EndsWith("10pct", StringComparison.Ordinal) ? peak / 10 : double.Parse(finalLr, CultureInfo.InvariantCulture);
            return Schedule.Join(
                [new DecaySchedule(peak / 100, peak, warmup - 1, DecayShape.Cosine), new DecaySchedule(peak, final, total - warmup, DecayShape.Cosine)],
                [warmup - 1]);
        }
        throw new InvalidDataException($"its schedule '{schedule}' is none of the grid's kinds (constant, wsd-linear-cdF, wsd-sqrt-cdF, cosine-to10pct, cosine-final…)");
    }

    // The CSV's last row is step T (the final evaluation): give the schedule one more step so it can be read.
    private static SampledSchedule ExtendByOne(SampledSchedule rates) =>
        new([.. rates.LearningRates.ToArray(), rates.LearningRates[^1]]);

    // Why the rebuilt schedule disagrees with the log's LRs (null when it agrees at every logged step).
    private static string? Mismatch(string file, SampledSchedule rebuilt, int total)
    {
        foreach (var line in File.ReadLines(file).Skip(1))
        {
            var cells = line.Split(',');
            int step = int.Parse(cells[0], CultureInfo.InvariantCulture);
            if (step >= total) continue;
            double logged = double.Parse(cells[1], CultureInfo.InvariantCulture);
            if (Math.Abs(rebuilt.LearningRates[step] - logged) > 1e-6 * Math.Max(logged, 1e-12) + 1e-15)
            {
                return string.Create(CultureInfo.InvariantCulture, $"the LR its manifest row describes is {rebuilt.LearningRates[step]:R} at step {step}, the log says {logged:R}");
            }
        }
        return null;
    }

    /// <summary>
    /// The "schedules" protocol at one peak LR: fit on the constant run, the shortest wsd-linear-cd0.2 run (budget S) and
    /// the shortest-horizon cosine-to10pct run cut at step S; predict every other run at that peak. (On the 124M grid S
    /// is 15000, and 25000 at 1e-4, whose shortest runs are 25000 steps long.)
    /// </summary>
    public static (IReadOnlyList<ObservedCurve> Fit, IReadOnlyList<ObservedCurve> Predict) SchedulesProtocol(IReadOnlyList<SchaippRun> runs, double peak)
    {
        var atPeak = AtPeak(runs, peak);
        var constant = Constant(atPeak, peak);
        var wsd = Shortest(atPeak, "wsd-linear-cd0.2", peak);
        var cosine = Shortest(atPeak, "cosine-to10pct", peak);
        var cosineCurve = cosine.TotalSteps > wsd.TotalSteps ? cosine.Curve.Truncate(wsd.TotalSteps) : cosine.Curve;
        var fitted = new[] { constant, wsd, cosine };
        var fit = new[] { constant.Curve, wsd.Curve, cosineCurve };
        var predict = atPeak.Where(r => !fitted.Contains(r)).Select(r => r.Curve).ToList();
        return (fit, predict);
    }

    /// <summary>
    /// The "horizon" protocol at one peak LR (a longer budget from a shorter one): fit on the constant run and the
    /// shortest wsd-linear-cd0.2 run; predict the longer wsd-linear-cd0.2 runs, whose 20% cooldowns start later.
    /// </summary>
    public static (IReadOnlyList<ObservedCurve> Fit, IReadOnlyList<ObservedCurve> Predict) HorizonProtocol(IReadOnlyList<SchaippRun> runs, double peak)
    {
        var atPeak = AtPeak(runs, peak);
        var constant = Constant(atPeak, peak);
        var wsd = atPeak.Where(r => r.Schedule == "wsd-linear-cd0.2").OrderBy(r => r.TotalSteps).ToList();
        if (wsd.Count < 2) throw new InvalidDataException($"The horizon protocol needs two wsd-linear-cd0.2 runs at peak LR {Format(peak)}.");
        return ([constant.Curve, wsd[0].Curve], wsd.Skip(1).Select(r => r.Curve).ToList());
    }

    /// <summary>The constant run at a peak, which the protocols and replays fit or follow (the grid's longest one).</summary>
    public static SchaippRun Constant(IReadOnlyList<SchaippRun> runs, double peak) =>
        FindConstant(runs, peak) ?? throw new InvalidDataException($"The grid has no constant run at peak LR {Format(peak)}.");

    /// <summary>As <see cref="Constant"/>, null when the peak has no constant run.</summary>
    public static SchaippRun? FindConstant(IReadOnlyList<SchaippRun> runs, double peak) =>
        runs.Where(r => r.Schedule == "constant" && SamePeak(r, peak)).MaxBy(r => r.TotalSteps);

    // The shortest run of a schedule at a peak.
    private static SchaippRun Shortest(IReadOnlyList<SchaippRun> atPeak, string schedule, double peak) =>
        atPeak.Where(r => r.Schedule == schedule).MinBy(r => r.TotalSteps)
        ?? throw new InvalidDataException($"The grid has no {schedule} run at peak LR {Format(peak)}.");

    /// <summary>Whether a run's peak LR is <paramref name="peak"/> (to 1e-9 of it).</summary>
    public static bool SamePeak(SchaippRun run, double peak) => Math.Abs(run.PeakLearningRate - peak) <= 1e-9 * peak;

    private static string Format(double peak) => peak.ToString("G", CultureInfo.InvariantCulture);

    /// <summary>The peak LRs of the grid, ascending.</summary>
    public static IReadOnlyList<double> Peaks(IReadOnlyList<SchaippRun> runs) => runs.Select(r => r.PeakLearningRate).Distinct().Order().ToList();

    private static List<SchaippRun> AtPeak(IReadOnlyList<SchaippRun> runs, double peak)
    {
        var atPeak = runs.Where(r => SamePeak(r, peak)).ToList();
        if (atPeak.Count == 0)
        {
            var peaks = Peaks(runs).Select(p => p.ToString("G", CultureInfo.InvariantCulture));
            throw new ArgumentException($"No runs at peak LR {Format(peak)}; the grid has {string.Join(", ", peaks)}.");
        }
        return atPeak;
    }
}
