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

    /// <summary>The longest run (in steps) a curve file may span: its schedule is sampled at every step.</summary>
    public const int MaxSteps = 20_000_000;

    /// <summary>
    /// Reads a CSV with the columns <c>step</c>, <c>lr</c> and <c>loss</c> (any order, names matched case-insensitively,
    /// other columns ignored). The learning rate of every step comes from <paramref name="schedule"/> when given;
    /// otherwise from the <c>lr</c> column, which must then list every step from 0 (rows between are linearly
    /// interpolated when <paramref name="interpolateMissingSteps"/> is set, for curves logged every few steps).
    /// Rows whose loss is empty, NaN or infinite are skipped, and so is a torn last line (a row cut short by a process
    /// that died while writing it); each is reported to <paramref name="notice"/>. Everything else that is not a
    /// valid curve is refused with an <see cref="InvalidDataException"/> naming the file and line: a row with too
    /// few cells, a step that is not an integer or does not increase, an LR that is not a finite number &gt;= 0, a loss
    /// that is not a number, &lt;= 0, or more than 1000 times the curve's median (a corrupt value), and a log whose
    /// steps span more than <see cref="MaxSteps"/> (usually a typo'd step).
    /// </summary>
    public static ObservedCurve FromCsv(string path, string? name = null, SampledSchedule? schedule = null, bool interpolateMissingSteps = false,
        Action<string>? notice = null) =>
        FromRows(path, CsvRows(path, requireLearningRate: schedule == null, notice), name ?? Path.GetFileNameWithoutExtension(path), schedule,
            interpolateMissingSteps, notice);

    /// <summary>
    /// The rows of a <c>step,lr,loss</c> CSV (columns in any order, names case-insensitive, others ignored), for
    /// <see cref="FromRows"/> or a reader that follows a growing log: malformed cells are refused with their line, and
    /// a torn last line (no newline, too few cells) is left out and reported to <paramref name="notice"/>. A reader of
    /// a log still being written sets <paramref name="skipUnfinishedLastLine"/>: a last line without its newline is
    /// then left out even when its cells are all there (its last number may be cut), for the next read, and an empty
    /// log or one with its header alone gives no rows.
    /// </summary>
    /// <exception cref="InvalidDataException">A malformed header, row or cell.</exception>
    public static IReadOnlyList<LogRow> CsvRows(string path, bool requireLearningRate = true, Action<string>? notice = null, bool skipUnfinishedLastLine = false)
    {
        string text = File.ReadAllText(path);
        var lines = text.Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        bool tornLast = !text.EndsWith('\n');
        // A log still being written may be empty, or hold its header (or part of it) and no row yet: nothing to read so far.
        if (skipUnfinishedLastLine && (lines.Length == 0 || (lines.Length == 1 && tornLast))) return [];
        if (!skipUnfinishedLastLine && lines.Length < 2) throw new InvalidDataException($"{path}: expected a header and at least one row.");
        var header = lines[0].TrimEnd('\r').Split(',').Select(c => c.Trim().ToLowerInvariant()).ToList();
        int stepColumn = header.IndexOf("step"), lrColumn = header.IndexOf("lr"), lossColumn = header.IndexOf("loss");
        if (stepColumn < 0 || lossColumn < 0 || (requireLearningRate && lrColumn < 0))
        {
            throw new InvalidDataException($"{path}: the header '{lines[0].TrimEnd('\r')}' must name the columns step, loss{(requireLearningRate ? " and lr" : "")}.");
        }
        int needed = Math.Max(stepColumn, lossColumn) + 1;
        var rows = new List<LogRow>();
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            int number = i + 1;
            if (line.Trim().Length == 0) continue;
            var cells = line.Split(',');
            if (i == lines.Length - 1 && tornLast && skipUnfinishedLastLine) continue;
            if (i == lines.Length - 1 && tornLast && (cells.Length < header.Count || cells.Length < needed))
            {
                notice?.Invoke($"{path}, line {number}: the last line is cut short (a process died while writing it?); it is left out.");
                continue;
            }
            if (cells.Length < needed)
            {
                throw new InvalidDataException($"{path}, line {number}: {cells.Length} cell{(cells.Length == 1 ? "" : "s")}, but the header names the step and loss in columns {stepColumn + 1} and {lossColumn + 1}.");
            }
            if (!long.TryParse(cells[stepColumn].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long step) || step < 0)
            {
                throw new InvalidDataException($"{path}, line {number}: '{cells[stepColumn]}' is not a step (an integer >= 0).");
            }
            double? lr = null;
            if (lrColumn >= 0 && lrColumn < cells.Length && cells[lrColumn].Trim().Length > 0)
            {
                if (!double.TryParse(cells[lrColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    throw new InvalidDataException($"{path}, line {number}: the lr '{cells[lrColumn]}' is not a number.");
                }
                lr = value;
            }
            string lossCell = cells[lossColumn].Trim();
            double? loss = null;
            if (lossCell.Length > 0)
            {
                if (!double.TryParse(lossCell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    throw new InvalidDataException($"{path}, line {number}: the loss '{lossCell}' is not a number.");
                }
                loss = value;
            }
            rows.Add(new LogRow(step, lr, loss, $"line {number}"));
        }
        return rows;
    }

    /// <summary>
    /// A curve from the rows of any log (<see cref="LogRow"/>, in the log's order), checked as <see cref="FromCsv"/>
    /// checks a CSV: steps must increase and span at most <see cref="MaxSteps"/>; an LR must be a finite number
    /// &gt;= 0; a loss must be &gt; 0 and at most 1000 times the curve's median; rows without a finite loss are left
    /// out and reported to <paramref name="notice"/>. Every message names <paramref name="source"/> and the row's
    /// place. The LR of every step comes from <paramref name="schedule"/> when given; otherwise from the rows, which
    /// must then start at step 0 (the steps between logged rows are interpolated linearly when
    /// <paramref name="interpolateMissingSteps"/> is set).
    /// </summary>
    /// <exception cref="InvalidDataException">The rows are not a valid curve.</exception>
    public static ObservedCurve FromRows(string source, IEnumerable<LogRow> rows, string name, SampledSchedule? schedule = null,
        bool interpolateMissingSteps = false, Action<string>? notice = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(rows);
        var rateRows = new List<(long, double)>();
        var steps = new List<int>();
        var losses = new List<double>();
        var where = new List<string>();
        int skipped = 0;
        string? firstSkipped = null, lastWhere = null;
        long lastStep = -1;
        foreach (var row in rows)
        {
            long step = row.Step;
            if (step < 0) throw new InvalidDataException($"{source}, {row.Where}: step {step} is negative.");
            if (step <= lastStep)
            {
                throw new InvalidDataException($"{source}, {row.Where}: step {step} {(step == lastStep ? "repeats" : "comes after")} step {lastStep} ({lastWhere}); steps must increase.");
            }
            if (step >= MaxSteps)
            {
                throw new InvalidDataException(lastStep >= 0
                    ? $"{source}, {row.Where}: step {step} follows step {lastStep} ({lastWhere}); a log may span at most {MaxSteps:N0} steps (a typo in the step?)."
                    : $"{source}, {row.Where}: step {step}; a log may span at most {MaxSteps:N0} steps.");
            }
            lastStep = step;
            lastWhere = row.Where;
            if (row.LearningRate is double lr)
            {
                if (!double.IsFinite(lr) || lr < 0) throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}, {row.Where}: the lr {lr} must be a finite number >= 0."));
                rateRows.Add((step, lr));
            }
            if (row.Loss is not double loss || !double.IsFinite(loss))
            {
                if (skipped++ == 0) firstSkipped = row.Where;
                continue;
            }
            if (loss <= 0) throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}, {row.Where}: the loss {loss} must be > 0."));
            steps.Add((int)step);
            losses.Add(loss);
            where.Add(row.Where);
        }
        if (skipped > 0) notice?.Invoke($"{source}: {skipped} row{(skipped == 1 ? "" : "s")} without a finite loss left out (the first at {firstSkipped}).");
        if (steps.Count == 0) throw new InvalidDataException($"{source}: no row has a finite loss.");
        double median = losses.Order().ElementAt(losses.Count / 2);
        int absurd = losses.FindIndex(l => l > 1000 * median);
        if (absurd >= 0)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{source}, {where[absurd]}: the loss {losses[absurd]:G6} is more than 1000 times the curve's median {median:G6} (a corrupt value?); fix or remove the row."));
        }
        if (schedule == null)
        {
            if (rateRows.Count == 0 || rateRows[0].Item1 != 0)
            {
                throw new InvalidDataException($"{source}: the learning rate must be logged from step 0 to give the rate of every step (or give the schedule).");
            }
            int total = steps[^1] + 1;
            bool complete = rateRows.Count >= total && rateRows[total - 1].Item1 == total - 1;
            if (!complete && !interpolateMissingSteps)
            {
                throw new InvalidDataException($"{source}: the learning rate is not logged at every step up to {total - 1}; pass a schedule or allow interpolation.");
            }
            var table = new TableSchedule(rateRows, TableInterpolation.Linear);
            schedule = table.SampleWithIntrinsicTime(Math.Max(total, (int)rateRows[^1].Item1 + 1));
        }
        else if (steps[^1] >= schedule.Count)
        {
            throw new InvalidDataException($"{source}, {where[^1]}: step {steps[^1]} lies past the schedule's {schedule.Count} steps.");
        }
        return new ObservedCurve(name, schedule, steps, losses);
    }
}
