using System.Globalization;
using System.Text;
using MathNet.Numerics.Statistics;

namespace TinyGptEvidence;

/// <summary>One schedule against the controller over the same seeds: differences are schedule − controller.</summary>
/// <param name="Schedule">The schedule's name (e.g. wsd:0.3).</param>
/// <param name="FinalEvalLosses">Its final evaluation loss per seed.</param>
/// <param name="Differences">Per seed, its final evaluation loss minus the controller's (positive: the controller did better).</param>
public sealed record PairedComparison(string Schedule, IReadOnlyList<double> FinalEvalLosses, IReadOnlyList<double> Differences)
{
    /// <summary>Mean final evaluation loss over the seeds.</summary>
    public double MeanEvalLoss => FinalEvalLosses.Average();
    /// <summary>Mean paired difference.</summary>
    public double MeanDifference => Differences.Average();
    /// <summary>Sample standard deviation of the paired differences (the paired spread); NaN for one seed.</summary>
    public double DifferenceSpread => Differences.StandardDeviation();
}

/// <summary>
/// The paired-seed verdicts of the evidence run: every schedule of a seed shares that seed's initialisation and
/// data order, so differences between schedules are taken per seed before averaging.
/// </summary>
public sealed record PairedEvidence(
    IReadOnlyList<long> Seeds, PairedComparison Controller, IReadOnlyList<PairedComparison> Others, string BestFraction)
{
    /// <summary>The tolerance of the "within the best grid fraction" target, in nats.</summary>
    public const double WithinBestTolerance = 0.005;

    /// <summary>Compares every schedule with the controlled runs; <paramref name="finalEval"/> maps schedule → loss per seed (in <paramref name="seeds"/> order).</summary>
    public static PairedEvidence Build(IReadOnlyList<long> seeds, IReadOnlyDictionary<string, double[]> finalEval, string controlled = "controlled")
    {
        if (!finalEval.TryGetValue(controlled, out var reference)) throw new ArgumentException($"no '{controlled}' runs to compare with.", nameof(finalEval));
        if (finalEval.Values.Any(v => v.Length != seeds.Count)) throw new ArgumentException("every schedule needs one loss per seed.", nameof(finalEval));
        var others = finalEval.Where(kv => kv.Key != controlled)
            .Select(kv => new PairedComparison(kv.Key, kv.Value, kv.Value.Select((v, i) => v - reference[i]).ToArray()))
            .OrderBy(c => c.Schedule, StringComparer.Ordinal).ToList();
        var grid = others.Where(c => c.Schedule.StartsWith("wsd:", StringComparison.Ordinal)).ToList();
        if (grid.Count == 0) throw new ArgumentException("no wsd:F runs in the grid.", nameof(finalEval));
        string best = grid.MinBy(c => c.MeanEvalLoss)!.Schedule;
        return new PairedEvidence(seeds, new PairedComparison(controlled, reference, reference.Select(_ => 0.0).ToArray()), others, best);
    }

    private PairedComparison Of(string schedule) => Others.FirstOrDefault(c => c.Schedule == schedule)
        ?? throw new InvalidOperationException($"no '{schedule}' runs.");

    /// <summary>The controller's final eval loss is within <see cref="WithinBestTolerance"/> of the best grid fraction's (paired mean).</summary>
    public bool WithinBestFraction => -Of(BestFraction).MeanDifference <= WithinBestTolerance;

    /// <summary>The controller is no worse than the fixed 0.2 cooldown (paired mean), or null without wsd:0.2 runs.</summary>
    public bool? NoWorseThanFixed02 => Others.Any(c => c.Schedule == "wsd:0.2") ? Of("wsd:0.2").MeanDifference >= 0 : null;

    /// <summary>The controller beats the cosine by more than the paired spread, or null without cosine runs.</summary>
    public bool? BeatsCosine => Others.Any(c => c.Schedule == "cosine")
        ? Of("cosine").MeanDifference > Of("cosine").DifferenceSpread : null;

    /// <summary>A Markdown table: mean final eval loss, and the paired difference to the controller (mean ± spread).</summary>
    public string Table()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| schedule | final eval loss (mean of {Seeds.Count} seeds) | − controlled, paired (mean ± sd) | per seed |");
        text.AppendLine("|---|---|---|---|");
        foreach (var c in Others.Prepend(Controller))
        {
            string paired = c == Controller ? "—" : string.Create(CultureInfo.InvariantCulture, $"{c.MeanDifference:+0.0000;-0.0000;+0.0000} ± {c.DifferenceSpread:0.0000}");
            string perSeed = string.Join(" / ", c.FinalEvalLosses.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {c.Schedule}{(c.Schedule == BestFraction ? " (best fraction)" : "")} | {c.MeanEvalLoss:F4} | {paired} | {perSeed} |");
        }
        return text.ToString();
    }
}
