using System.Globalization;

namespace FslTorch.Schedules;

/// <summary>
/// A schedule given as rows (step, η), e.g. the logged LR of an earlier run. Between rows the rate is held
/// (<see cref="TableInterpolation.Hold"/>: the last row at or before k) or linearly interpolated; past the
/// last row it stays at the last value. The first row must be step 0.
/// </summary>
public sealed class TableSchedule : LearningRateSchedule
{
    private readonly long[] _steps;
    private readonly double[] _rates;

    /// <param name="rows">Rows with strictly increasing steps, the first at step 0, rates &gt;= 0.</param>
    /// <param name="interpolation">Hold (default) or linear.</param>
    public TableSchedule(IEnumerable<(long Step, double LearningRate)> rows, TableInterpolation interpolation = TableInterpolation.Hold)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var list = rows.ToList();
        if (list.Count == 0) throw new ArgumentException("rows must hold at least one row.", nameof(rows));
        if (list[0].Step != 0) throw new ArgumentException($"rows must start at step 0; the first row is step {list[0].Step}.", nameof(rows));
        _steps = new long[list.Count];
        _rates = new double[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            _steps[i] = i == 0 ? 0 : Guard.InRange(list[i].Step, _steps[i - 1] + 1, long.MaxValue, $"{nameof(rows)}[{i}].Step");
            _rates[i] = Guard.NonNegative(list[i].LearningRate, $"{nameof(rows)}[{i}].LearningRate");
        }
        Interpolation = interpolation switch
        {
            TableInterpolation.Hold or TableInterpolation.Linear => interpolation,
            _ => throw new ArgumentOutOfRangeException(nameof(interpolation), interpolation, "interpolation must be Hold or Linear."),
        };
    }

    /// <summary>
    /// Reads rows from CSV text with a header naming the columns <c>step</c> and <c>lr</c> (other columns,
    /// such as <c>loss</c>, are ignored).
    /// </summary>
    public static TableSchedule FromCsv(TextReader reader, TableInterpolation interpolation = TableInterpolation.Hold)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string header = reader.ReadLine() ?? throw new FormatException("The CSV is empty; expected a header with 'step' and 'lr'.");
        var columns = header.Split(',').Select(c => c.Trim().ToLowerInvariant()).ToList();
        int stepColumn = columns.IndexOf("step"), lrColumn = columns.IndexOf("lr");
        if (stepColumn < 0 || lrColumn < 0) throw new FormatException($"The CSV header '{header}' must name the columns 'step' and 'lr'.");
        var rows = new List<(long, double)>();
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            var cells = line.Split(',');
            if (cells.Length <= Math.Max(stepColumn, lrColumn)
                || !long.TryParse(cells[stepColumn], NumberStyles.Integer, CultureInfo.InvariantCulture, out long step)
                || !double.TryParse(cells[lrColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out double lr))
            {
                throw new FormatException($"CSV line {lineNumber} ('{line}') has no valid step and lr.");
            }
            rows.Add((step, lr));
        }
        return new TableSchedule(rows, interpolation);
    }

    /// <summary>Reads a CSV file; see <see cref="FromCsv(TextReader, TableInterpolation)"/>.</summary>
    public static TableSchedule FromCsvFile(string path, TableInterpolation interpolation = TableInterpolation.Hold)
    {
        using var reader = new StreamReader(path);
        return FromCsv(reader, interpolation);
    }

    /// <summary>How rates between rows are found.</summary>
    public TableInterpolation Interpolation { get; }
    /// <summary>The number of rows.</summary>
    public int Count => _steps.Length;

    /// <inheritdoc />
    protected internal override double Evaluate(long step)
    {
        int i = Array.BinarySearch(_steps, step);
        if (i >= 0) return _rates[i];
        int before = ~i - 1; // the last row before step (there is one: row 0 is step 0)
        if (before == _steps.Length - 1 || Interpolation == TableInterpolation.Hold) return _rates[before];
        double t = (double)(step - _steps[before]) / (_steps[before + 1] - _steps[before]);
        return _rates[before] + (_rates[before + 1] - _rates[before]) * t;
    }
}
