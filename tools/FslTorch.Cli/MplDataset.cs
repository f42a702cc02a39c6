using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli;

/// <summary>The Multi-Power Law paper's curves (../shared/data/mpl): per-step LRs from schedules/, roles from the manifest.</summary>
internal static class MplDataset
{
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
