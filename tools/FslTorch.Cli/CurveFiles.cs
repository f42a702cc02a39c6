using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli;

/// <summary>Loss curves from any trainer: step,lr,loss CSV, JSON Lines, trainer_state.json or TensorBoard events (<see cref="LogFormats"/>).</summary>
internal static class CurveFiles
{
    /// <summary>Whether <paramref name="folder"/> holds a <c>manifest.csv</c> whose header has every one of <paramref name="columns"/>.</summary>
    public static bool ManifestHas(string folder, IEnumerable<string> columns)
    {
        string manifest = Path.Combine(folder, "manifest.csv");
        if (!File.Exists(manifest)) return false;
        var header = File.ReadLines(manifest).FirstOrDefault()?.Split(',') ?? [];
        return columns.All(header.Contains);
    }

    /// <summary>
    /// Reads a curve; the LR of steps between logged rows is interpolated linearly (exact when every step is
    /// logged). <paramref name="fromStep"/> drops earlier points; <paramref name="bin"/> &gt; 1 averages the
    /// losses of each window [j·N, (j+1)·N) into one point at the window's mean step; <paramref name="dropLast"/> leaves
    /// out the curve's last logged points (a final evaluation on another set, as the 124M grid's logs end with).
    /// </summary>
    public static ObservedCurve Load(string path, int fromStep, int bin, LogFormats? formats = null, string? schedule = null, long? untilStep = null,
        int dropLast = 0)
    {
        if (bin < 1) throw new ArgumentException($"--bin must be >= 1; got {bin}.");
        if (fromStep < 0) throw new ArgumentException($"--from-step must be >= 0; got {fromStep}.");
        if (untilStep < fromStep) throw new ArgumentException($"--until-step must be >= --from-step ({fromStep}); got {untilStep}.");
        if (dropLast < 0) throw new ArgumentException($"--drop-last must be >= 0; got {dropLast}.");
        SampledSchedule? rates = schedule == null ? null : new SampledSchedule(ReadSchedule(schedule, null).Rates);
        var curve = (formats ?? LogFormats.Default).Load(path, message => Console.Error.WriteLine($"fsl: note: {message}"), rates);
        return Trim(curve, fromStep, bin, path, untilStep, dropLast);
    }

    /// <summary>
    /// Drops the last <paramref name="dropLast"/> logged points, then the points before <paramref name="fromStep"/> and after
    /// <paramref name="untilStep"/> (none when null) and, for <paramref name="bin"/> &gt; 1, bins the rest (see <see cref="Load"/>).
    /// The schedule stays whole.
    /// </summary>
    public static ObservedCurve Trim(ObservedCurve curve, int fromStep, int bin, string path, long? untilStep = null, int dropLast = 0)
    {
        if (bin < 1) throw new ArgumentException($"--bin must be >= 1; got {bin}.");
        if (fromStep < 0) throw new ArgumentException($"--from-step must be >= 0; got {fromStep}.");
        if (dropLast < 0) throw new ArgumentException($"--drop-last must be >= 0; got {dropLast}.");
        if (dropLast >= curve.Count) throw new InvalidDataException($"{path}: --drop-last {dropLast} leaves none of its {curve.Count} points.");
        // Logged steps ascend, so the last points are those from the dropLast-th last step on.
        long cut = dropLast == 0 ? long.MaxValue : curve.Steps[curve.Count - dropLast];
        var kept = curve.Where(step => step >= fromStep && step < cut && (untilStep == null || step <= untilStep));
        if (kept.Count == 0)
        {
            throw new InvalidDataException(untilStep == null ? $"{path}: no points at or after step {fromStep}." : $"{path}: no points in steps {fromStep}–{untilStep}.");
        }
        return bin > 1 ? Bin(kept, bin) : kept;
    }

    /// <summary><c>--drop-last N</c>: each curve's last N logged points left out (a final evaluation on another set).</summary>
    public static System.CommandLine.Option<int> DropLastOption() => new("--drop-last")
    {
        Description = "Leave out each curve's last N logged points: a final evaluation on another set that some logs end with (each run of ../shared/data/schaipp-124m/ ends with one, about 0.036 above its trend).",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>
    /// Refuses an output file that cannot be written (no permission, a file where its folder should be) before any
    /// work is done; creates its folder, leaves no file behind.
    /// </summary>
    public static void CheckWritable(string? path, string option)
    {
        if (path == null) return;
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        if (Directory.Exists(full)) throw new IOException($"{option} {path}: that is a folder, not a file.");
        bool existed = File.Exists(full);
        try
        {
            if (folder != null) Directory.CreateDirectory(folder);
            using (File.Open(full, FileMode.OpenOrCreate, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} {path}: cannot be written ({e.Message}).", e);
        }
        if (!existed) File.Delete(full);
    }

    public static ObservedCurve Bin(ObservedCurve curve, int bin)
    {
        var windows = Enumerable.Range(0, curve.Count).GroupBy(i => curve.Steps[i] / bin).ToList();
        var steps = windows.Select(w => (int)Math.Round(w.Average(i => (double)curve.Steps[i]))).ToList();
        var losses = windows.Select(w => w.Average(i => curve.Losses[i])).ToList();
        return new ObservedCurve(curve.Name, curve.Schedule, steps, losses);
    }

    /// <summary>The per-step LRs of a spec or a step,lr CSV, and the run's length (given, or the spec's total=, or the CSV's last step + 1).</summary>
    public static (double[] Rates, int Total) ReadSchedule(string text, long? totalSteps)
    {
        LearningRateSchedule schedule;
        long? known;
        if (File.Exists(text))
        {
            var table = TableSchedule.FromCsvFile(text, TableInterpolation.Linear);
            schedule = table;
            known = File.ReadLines(text).Skip(1).Where(l => l.Trim().Length > 0)
                .Select(l => long.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        }
        else
        {
            schedule = Schedule.Parse(text, out known);
        }
        long total = totalSteps ?? known ?? throw new ArgumentException($"--schedule {text}: its length is not known; give --total-steps.");
        if (total < 2 || total > ObservedCurve.MaxSteps) throw new ArgumentException($"--total-steps must lie in [2, {ObservedCurve.MaxSteps:N0}]; got {total}.");
        return (schedule.Sample(total), (int)total);
    }
}
