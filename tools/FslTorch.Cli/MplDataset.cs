using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli;

/// <summary>The Multi-Power Law paper's curves (../shared/data/mpl): per-step LRs from schedules/, roles from the manifest.</summary>
internal static class MplDataset
{
    /// <summary>The columns a manifest in this layout has.</summary>
    private static readonly string[] Columns = ["file", "model", "run", "role", "schedule_file"];

    /// <summary>Whether <paramref name="folder"/> holds a manifest in this layout (every column of it in its header).</summary>
    public static bool IsMplLayout(string folder) => CurveFiles.ManifestHas(folder, Columns);

    /// <summary>
    /// The model sizes of the manifest, smallest first (by the number before K, M, B or T: 25M before 100M; sizes that do not
    /// parse keep the manifest's order, after the others).
    /// </summary>
    public static IReadOnlyList<string> Sizes(string folder)
    {
        var lines = File.ReadAllLines(Path.Combine(folder, "manifest.csv")).Where(l => l.Length > 0).ToArray();
        int model = lines[0].Split(',').ToList().IndexOf("model");
        var sizes = lines.Skip(1).Select(l => l.Split(',')).Where(r => r.Length > model).Select(r => r[model]).Distinct().ToList();
        return sizes.OrderBy(s => Parameters(s) ?? double.PositiveInfinity).ThenBy(sizes.IndexOf).ToList();
    }

    // "25M" → 2.5e7; null when the size does not read as a number with a K/M/B/T suffix.
    private static double? Parameters(string size)
    {
        if (size.Length < 2) return null;
        double scale = char.ToUpperInvariant(size[^1]) switch { 'K' => 1e3, 'M' => 1e6, 'B' => 1e9, 'T' => 1e12, _ => double.NaN };
        return double.IsFinite(scale) && double.TryParse(size[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) ? n * scale : null;
    }

    public static (IReadOnlyList<ObservedCurve> Fit, IReadOnlyList<ObservedCurve> Predict) Load(string folder, string size)
    {
        string manifest = Path.Combine(folder, "manifest.csv");
        if (!File.Exists(manifest)) throw new FileNotFoundException($"{manifest} not found: --data must be the mpl/ folder of the shared data.");
        var lines = File.ReadAllLines(manifest);
        var header = lines[0].Split(',').ToList();
        int file = header.IndexOf("file"), model = header.IndexOf("model"), run = header.IndexOf("run"), role = header.IndexOf("role"), schedule = header.IndexOf("schedule_file");
        var fit = new List<ObservedCurve>();
        var predict = new List<ObservedCurve>();
        var schedules = new Dictionary<string, SampledSchedule>();
        foreach (var row in lines.Skip(1).Select(l => l.Split(',')).Where(r => r.Length > schedule && r[model] == size))
        {
            if (!schedules.TryGetValue(row[schedule], out var rates))
            {
                rates = new SampledSchedule(File.ReadLines(Path.Combine(folder, row[schedule])).Skip(1)
                    .Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray());
                schedules[row[schedule]] = rates;
            }
            var curve = ObservedCurve.FromCsv(Path.Combine(folder, row[file]), row[run], rates);
            (row[role] == "fit" ? fit : predict).Add(curve);
        }
        if (fit.Count == 0) throw new InvalidDataException($"No 'fit' runs of size {size} in {manifest}.");
        return (fit, predict);
    }
}
