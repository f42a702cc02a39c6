using System.Globalization;
using FslTorch.Schedules;

namespace FslTorch.Fitting;

/// <summary>
/// A loss curve to fit or score: the learning rate of every step of the run (warmup included) and the
/// loss observed at some of its steps.
/// </summary>
public sealed class ObservedCurve
{
    private readonly int[] _steps;
    private readonly double[] _losses;
    private readonly double[] _weights;

    /// <param name="name">A name for reports.</param>
    /// <param name="schedule">η_k for every step k of the run.</param>
    /// <param name="steps">Strictly increasing observed steps, within the schedule.</param>
    /// <param name="losses">The loss at each observed step, finite and &gt; 0.</param>
    /// <param name="weights">Optional per-point weights &gt;= 0 (default 1).</param>
    public ObservedCurve(string name, SampledSchedule schedule, IReadOnlyList<int> steps, IReadOnlyList<double> losses,
        IReadOnlyList<double>? weights = null)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count != steps.Count) throw new ArgumentException($"losses must have one value per step ({steps.Count}); got {losses.Count}.", nameof(losses));
        if (weights != null && weights.Count != steps.Count) throw new ArgumentException($"weights must have one value per step ({steps.Count}); got {weights.Count}.", nameof(weights));
        _steps = steps.ToArray();
        _losses = losses.ToArray();
        _weights = weights?.ToArray() ?? Enumerable.Repeat(1.0, steps.Count).ToArray();
        for (int i = 0; i < _steps.Length; i++)
        {
            if (_steps[i] < 0 || _steps[i] >= schedule.Count || (i > 0 && _steps[i] <= _steps[i - 1]))
            {
                throw new ArgumentException($"steps must be strictly increasing within [0, {schedule.Count - 1}]; steps[{i}] = {_steps[i]}.", nameof(steps));
            }
            if (!double.IsFinite(_losses[i]) || _losses[i] <= 0) throw new ArgumentException($"losses[{i}] must be finite and > 0; got {_losses[i]}.", nameof(losses));
            if (!double.IsFinite(_weights[i]) || _weights[i] < 0) throw new ArgumentException($"weights[{i}] must be finite and >= 0; got {_weights[i]}.", nameof(weights));
        }
    }

    /// <summary>The name.</summary>
    public string Name { get; }
    /// <summary>The learning rate of every step.</summary>
    public SampledSchedule Schedule { get; }
    /// <summary>The observed steps.</summary>
    public IReadOnlyList<int> Steps => _steps;
    /// <summary>The observed losses.</summary>
    public IReadOnlyList<double> Losses => _losses;
    /// <summary>The per-point weights.</summary>
    public IReadOnlyList<double> Weights => _weights;
    /// <summary>The number of observed points.</summary>
    public int Count => _steps.Length;

    /// <summary>The same run restricted to the points whose step satisfies <paramref name="keep"/>.</summary>
    public ObservedCurve Where(Func<int, bool> keep)
    {
        var indices = Enumerable.Range(0, Count).Where(i => keep(_steps[i])).ToList();
        return new ObservedCurve(Name, Schedule, indices.Select(i => _steps[i]).ToList(), indices.Select(i => _losses[i]).ToList(),
            indices.Select(i => _weights[i]).ToList());
    }

    /// <summary>The run cut after step <paramref name="lastStep"/> (its schedule too: a cut curve is still exact).</summary>
    public ObservedCurve Truncate(int lastStep)
    {
        var cut = Where(step => step <= lastStep);
        var rates = Schedule.LearningRates[..Math.Min(Schedule.Count, lastStep + 1)].ToArray();
        return new ObservedCurve(Name, new SampledSchedule(rates), cut._steps, cut._losses, cut._weights);
    }

    /// <summary>
    /// Reads a CSV with the columns <c>step</c>, <c>lr</c> and <c>loss</c> (any order, other columns ignored).
    /// The learning rate of every step comes from <paramref name="schedule"/> when given; otherwise from the
    /// <c>lr</c> column, which must then list every step from 0 (rows between are linearly interpolated when
    /// <paramref name="interpolateMissingSteps"/> is set, for curves logged every few steps).
    /// Rows whose loss is empty, NaN or infinite are skipped.
    /// </summary>
    public static ObservedCurve FromCsv(string path, string? name = null, SampledSchedule? schedule = null, bool interpolateMissingSteps = false)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2) throw new InvalidDataException($"{path}: expected a header and at least one row.");
        var header = lines[0].Split(',').Select(c => c.Trim().ToLowerInvariant()).ToList();
        int stepColumn = header.IndexOf("step"), lrColumn = header.IndexOf("lr"), lossColumn = header.IndexOf("loss");
        if (stepColumn < 0 || lossColumn < 0 || (schedule == null && lrColumn < 0))
        {
            throw new InvalidDataException($"{path}: the header '{lines[0]}' must name the columns step, loss{(schedule == null ? " and lr" : "")}.");
        }
        var rateRows = new List<(long, double)>();
        var steps = new List<int>();
        var losses = new List<double>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            var cells = lines[i].Split(',');
            if (!int.TryParse(cells[stepColumn], NumberStyles.Integer, CultureInfo.InvariantCulture, out int step))
            {
                throw new InvalidDataException($"{path}, line {i + 1}: '{cells[stepColumn]}' is not a step.");
            }
            if (lrColumn >= 0 && lrColumn < cells.Length && double.TryParse(cells[lrColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out double lr))
            {
                rateRows.Add((step, lr));
            }
            if (lossColumn < cells.Length && double.TryParse(cells[lossColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss) && double.IsFinite(loss))
            {
                steps.Add(step);
                losses.Add(loss);
            }
        }
        if (steps.Count == 0) throw new InvalidDataException($"{path}: no row has a finite loss.");
        if (schedule == null)
        {
            if (rateRows.Count == 0 || rateRows[0].Item1 != 0)
            {
                throw new InvalidDataException($"{path}: the lr column must start at step 0 to give the learning rate of every step.");
            }
            int total = steps[^1] + 1;
            bool complete = rateRows.Count >= total && rateRows[total - 1].Item1 == total - 1;
            if (!complete && !interpolateMissingSteps)
            {
                throw new InvalidDataException($"{path}: the lr column does not list every step up to {total - 1}; pass a schedule or allow interpolation.");
            }
            var table = new TableSchedule(rateRows, TableInterpolation.Linear);
            schedule = table.SampleWithIntrinsicTime(Math.Max(total, (int)rateRows[^1].Item1 + 1));
        }
        return new ObservedCurve(name ?? Path.GetFileNameWithoutExtension(path), schedule, steps, losses);
    }
}
