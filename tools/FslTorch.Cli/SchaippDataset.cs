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
/// Loads the grid with the learning rate of every step rebuilt from the manifest (the logged <c>lr</c> column
/// only covers every 200th step), checked against every logged LR. Points are the regular validation losses
/// after warmup; the row at step T is a final evaluation on a larger set (+0.036 in every run) and is left out.
/// </summary>
internal static class SchaippDataset
{
    public static IReadOnlyList<SchaippRun> Load(string folder)
    {
        string manifest = Path.Combine(folder, "manifest.csv");
        if (!File.Exists(manifest)) throw new FileNotFoundException($"{manifest} not found: --data must be the schaipp-124m/ folder of the shared data.");
        var lines = File.ReadAllLines(manifest);
        var header = lines[0].Split(',').ToList();
        string Cell(string[] row, string name) => row[header.IndexOf(name)];
        double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);
        var runs = new List<SchaippRun>();
        foreach (var row in lines.Skip(1).Select(l => l.Split(',')))
        {
            double peak = Number(Cell(row, "base_lr"));
            if (peak >= 5e-3) continue; // the one diverged run (manifest note): not fitted, not predicted
            string schedule = Cell(row, "schedule");
            int total = int.Parse(Cell(row, "iterations"), CultureInfo.InvariantCulture);
            int warmup = int.Parse(Cell(row, "warmup"), CultureInfo.InvariantCulture);
            double cooldown = Number(Cell(row, "cooldown_frac"));
            string finalLr = Cell(row, "cos_final_lr");
            var rebuilt = Rebuild(schedule, peak, total, warmup, cooldown, finalLr);
            var rates = rebuilt.SampleWithIntrinsicTime(total);
            string file = Path.Combine(folder, Cell(row, "file"));
            var full = ObservedCurve.FromCsv(file, Path.GetFileNameWithoutExtension(file), rates.Count > 0 ? ExtendByOne(rates) : rates);
            Check(file, full.Schedule, total);
            var curve = full.Where(step => step >= warmup && step < total);
            runs.Add(new SchaippRun(Cell(row, "file"), schedule, peak, total, warmup, cooldown, Number(Cell(row, "final_val_loss")), curve,
                full.Where(step => step < total), rebuilt));
        }
        return runs;
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
        throw new InvalidDataException($"Unknown schedule '{schedule}' in the schaipp-124m manifest.");
    }

    // The CSV's last row is step T (the final evaluation): give the schedule one more step so it can be read.
    private static SampledSchedule ExtendByOne(SampledSchedule rates) =>
        new([.. rates.LearningRates.ToArray(), rates.LearningRates[^1]]);

    private static void Check(string file, SampledSchedule rebuilt, int total)
    {
        foreach (var line in File.ReadLines(file).Skip(1))
        {
            var cells = line.Split(',');
            int step = int.Parse(cells[0], CultureInfo.InvariantCulture);
            if (step >= total) continue;
            double logged = double.Parse(cells[1], CultureInfo.InvariantCulture);
            if (Math.Abs(rebuilt.LearningRates[step] - logged) > 1e-6 * Math.Max(logged, 1e-12) + 1e-15)
            {
                throw new InvalidDataException($"{file}: the rebuilt LR at step {step} is {rebuilt.LearningRates[step]:R}, the log says {logged:R}.");
            }
        }
    }

    /// <summary>
    /// The "schedules" protocol at one peak LR: fit on the constant run, the 15000-step wsd-linear-cd0.2 run and
    /// the shortest-horizon cosine-to10pct run cut at step 15000 (for a peak without 15000-step runs: the
    /// 25000-step wsd-linear-cd0.2 and cosine-to10pct runs, whole); predict every other run at that peak.
    /// </summary>
    public static (IReadOnlyList<ObservedCurve> Fit, IReadOnlyList<ObservedCurve> Predict) SchedulesProtocol(IReadOnlyList<SchaippRun> runs, double peak)
    {
        var atPeak = AtPeak(runs, peak);
        var constant = atPeak.Single(r => r.Schedule == "constant");
        bool hasShort = atPeak.Any(r => r.TotalSteps == 15000);
        var wsd = atPeak.Single(r => r.Schedule == "wsd-linear-cd0.2" && r.TotalSteps == (hasShort ? 15000 : 25000));
        var cosine = atPeak.Where(r => r.Schedule == "cosine-to10pct").MinBy(r => r.TotalSteps)!;
        var cosineCurve = hasShort ? cosine.Curve.Truncate(15000) : cosine.Curve;
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
        var constant = atPeak.Single(r => r.Schedule == "constant");
        var wsd = atPeak.Where(r => r.Schedule == "wsd-linear-cd0.2").OrderBy(r => r.TotalSteps).ToList();
        if (wsd.Count < 2) throw new InvalidDataException($"The horizon protocol needs two wsd-linear-cd0.2 runs at peak LR {peak.ToString(CultureInfo.InvariantCulture)}.");
        return ([constant.Curve, wsd[0].Curve], wsd.Skip(1).Select(r => r.Curve).ToList());
    }

    /// <summary>The peak LRs of the grid, ascending.</summary>
    public static IReadOnlyList<double> Peaks(IReadOnlyList<SchaippRun> runs) => runs.Select(r => r.PeakLearningRate).Distinct().Order().ToList();

    private static List<SchaippRun> AtPeak(IReadOnlyList<SchaippRun> runs, double peak)
    {
        var atPeak = runs.Where(r => Math.Abs(r.PeakLearningRate - peak) <= 1e-9 * peak).ToList();
        if (atPeak.Count == 0)
        {
            var peaks = Peaks(runs).Select(p => p.ToString("G", CultureInfo.InvariantCulture));
            throw new ArgumentException($"No runs at peak LR {peak.ToString(CultureInfo.InvariantCulture)}; the grid has {string.Join(", ", peaks)}.");
        }
        return atPeak;
    }
}
