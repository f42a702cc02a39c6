using System.CommandLine;
using System.Globalization;
using FslTorch.Fitting;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// How far a loss curve is from slowing down steadily after the first tenth of its run: the measure by which TinyGpt's
/// recipe was chosen. D(t) = L(t/√2) − L(t·√2) is the loss drop over a factor-2 interval of steps (L: the mean loss
/// in bins of 2% of the run, interpolated); on a curve that keeps slowing down (any power law in steps) D never grows
/// with t. The acceleration is max over t of D(t) / min over t' &lt; t of D(t'), t from √2·N/10 (the interval starting
/// at the first tenth) up to the end of the peak-LR phase: 1 for a steadily slowing curve, 2 where the loss after a
/// plateau falls twice as fast as it did before.
/// </summary>
public static class CurveSmoothness
{
    /// <summary>The acceleration of a curve (see the type); NaN when the peak-LR phase ends before a whole interval after the first tenth.</summary>
    public static double Acceleration(ObservedCurve curve)
    {
        var rates = curve.Schedule.LearningRates.ToArray();
        return Acceleration(curve.Steps.Select(k => (long)k).ToList(), curve.Steps.Select(k => rates[k]).ToList(), curve.Losses);
    }

    /// <inheritdoc cref="Acceleration(ObservedCurve)"/>
    public static double Acceleration(IReadOnlyList<long> steps, IReadOnlyList<double> rates, IReadOnlyList<double> losses)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps.Count, 50, nameof(steps));
        if (rates.Count != steps.Count || losses.Count != steps.Count) throw new ArgumentException("steps, rates and losses must have the same length.");
        long total = steps[^1] + 1, width = Math.Max(1, total / 50);
        var centres = new List<double>();
        var means = new List<double>();
        foreach (var bin in Enumerable.Range(0, steps.Count).GroupBy(i => steps[i] / width).OrderBy(g => g.Key))
        {
            centres.Add(bin.Key * width + width / 2.0);
            means.Add(bin.Average(i => losses[i]));
        }
        double peak = rates.Max();
        long stableEnd = Enumerable.Range(0, steps.Count).Where(i => rates[i] >= 0.999 * peak).Max(i => steps[i]);
        double Loss(double t)
        {
            int j = centres.FindIndex(c => c >= t);
            if (j <= 0) return j == 0 ? means[0] : means[^1];
            return means[j - 1] + (means[j] - means[j - 1]) * (t - centres[j - 1]) / (centres[j] - centres[j - 1]);
        }
        double worst = double.NaN, lowest = double.PositiveInfinity;
        for (double t = 0.1 * total * Math.Sqrt(2); t * Math.Sqrt(2) <= stableEnd; t *= 1.05)
        {
            double drop = Loss(t / Math.Sqrt(2)) - Loss(t * Math.Sqrt(2));
            worst = double.IsNaN(worst) ? 1 : lowest > 0 ? Math.Max(worst, drop / lowest) : worst;
            lowest = Math.Min(lowest, drop);
        }
        return worst;
    }

    /// <summary><c>smoothness</c>: the acceleration and final losses of TinyGpt run folders.</summary>
    public static Command Create()
    {
        var folders = new Argument<string[]>("runs") { Description = "TinyGpt run folders (or folders of them).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("smoothness", "How far each run's loss curve is from slowing down steadily after its first tenth (1: steadily; TinyGpt's recipe was chosen by it).")
            { folders };
        command.SetAction(parse =>
        {
            var runs = parse.GetValue(folders)!.SelectMany(f => File.Exists(Path.Combine(f, "losses.csv")) ? [f]
                : Directory.Exists(f) ? Directory.GetDirectories(f).Where(d => File.Exists(Path.Combine(d, "summary.json"))).Order(StringComparer.Ordinal) : Enumerable.Empty<string>()).ToList();
            if (runs.Count == 0)
            {
                Console.Error.WriteLine("tinygpt-evidence smoothness: no finished run folder given.");
                return 2;
            }
            Console.WriteLine("| run | acceleration | final training loss | final eval loss |");
            Console.WriteLine("|---|---|---|---|");
            foreach (string run in runs)
            {
                var curve = ObservedCurve.FromCsv(Path.Combine(run, "losses.csv"));
                double acceleration = Acceleration(curve);
                var summary = RunSummary.Read(Path.Combine(run, "summary.json"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {Path.GetFileName(Path.TrimEndingDirectorySeparator(run))} | {(double.IsNaN(acceleration) ? "– (no peak-LR phase after the first tenth)" : acceleration.ToString("F3", CultureInfo.InvariantCulture))} | {summary.FinalTrainingLoss:F4} | {summary.FinalEvalLoss:F4} |"));
            }
            return 0;
        });
        return command;
    }
}
