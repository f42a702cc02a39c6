using System.Globalization;
using System.Text;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// One forecast of the final loss made during a run (at 25, 50 or 75% of its budget), against what the run reached.
/// The forecast and its band are what the run reported then (<see cref="ForecastCheck.FinalLoss"/>), not re-evaluated.
/// </summary>
public sealed record ScoredForecast(string Corpus, string Schedule, long Seed, ForecastCheck Check, double FinalTrainingLoss, double FinalEvalLoss)
{
    /// <summary>Forecast minus the realised final training loss (positive: too pessimistic).</summary>
    public double Error => Check.FinalLoss - FinalTrainingLoss;

    /// <summary>Forecast minus the realised final evaluation loss.</summary>
    public double EvalError => Check.FinalLoss - FinalEvalLoss;

    /// <summary>Upper minus lower end of the forecast's band.</summary>
    public double BandWidth => Check.Upper - Check.Lower;

    /// <summary>Whether the band holds the realised final training loss.</summary>
    public bool Covered => Holds(0);

    /// <summary>
    /// The forecast of the smoothed loss (<see cref="ForecastCheck.SmoothedFinalLoss"/>) minus the realised final training
    /// loss, which is the tracker's smoothed loss: like against like. <see cref="Error"/> compares the loss at the last
    /// step with a moving average that lags it (by 0.003–0.015 nats at the end of TinyGpt's CPU runs).
    /// </summary>
    public double SmoothedError => Check.SmoothedFinalLoss - FinalTrainingLoss;

    /// <summary>Whether the band moved by the smoothing lag holds the realised final training loss.</summary>
    public bool SmoothedCovered => Holds(Check.SmoothingLag);

    // Whether the band moved by `shift` holds the realised final training loss.
    private bool Holds(double shift) => Check.Lower + shift <= FinalTrainingLoss && FinalTrainingLoss <= Check.Upper + shift;
}

/// <summary>The scores of a group of forecasts (one corpus, schedule and fraction, or any other grouping).</summary>
public sealed record ForecastGroupScore(int Count, int Calibrated, double MeanError, double MeanAbsError, double MeanAbsEvalError,
    double MeanBandWidth, double Coverage, double CalibratedMeanAbsError, double CalibratedCoverage)
{
    /// <summary>The mean of <see cref="ScoredForecast.SmoothedError"/> (the smoothed loss forecast against the smoothed loss).</summary>
    public double MeanSmoothedError { get; init; }

    /// <summary>The mean |<see cref="ScoredForecast.SmoothedError"/>|.</summary>
    public double MeanAbsSmoothedError { get; init; }

    /// <summary>The share of <see cref="ScoredForecast.SmoothedCovered"/>.</summary>
    public double SmoothedCoverage { get; init; }

    /// <summary>Scores <paramref name="forecasts"/>; the calibrated-only figures are NaN when none was calibrated.</summary>
    public static ForecastGroupScore Of(IReadOnlyCollection<ScoredForecast> forecasts)
    {
        if (forecasts.Count == 0) throw new ArgumentException("no forecasts to score.", nameof(forecasts));
        var calibrated = forecasts.Where(f => f.Check.Calibrated).ToList();
        return new ForecastGroupScore(
            forecasts.Count, calibrated.Count,
            forecasts.Average(f => f.Error), forecasts.Average(f => Math.Abs(f.Error)), forecasts.Average(f => Math.Abs(f.EvalError)),
            forecasts.Average(f => f.BandWidth), forecasts.Average(f => f.Covered ? 1.0 : 0.0),
            calibrated.Count == 0 ? double.NaN : calibrated.Average(f => Math.Abs(f.Error)),
            calibrated.Count == 0 ? double.NaN : calibrated.Average(f => f.Covered ? 1.0 : 0.0))
        {
            MeanSmoothedError = forecasts.Average(f => f.SmoothedError),
            MeanAbsSmoothedError = forecasts.Average(f => Math.Abs(f.SmoothedError)),
            SmoothedCoverage = forecasts.Average(f => f.SmoothedCovered ? 1.0 : 0.0),
        };
    }
}

/// <summary>
/// The live-forecast benchmark's verdicts (issue targets): per corpus, the mean |forecast − final training loss| at
/// 50% (≤ <see cref="Target50"/>) and at 25% (≤ <see cref="Target25"/>); over all forecasts, the share of 80% bands
/// that hold the outcome (within [<see cref="CoverageLow"/>, <see cref="CoverageHigh"/>]). Each is reported over all
/// forecasts and over the calibrated ones (a forecast that says it cannot forecast is not a confident number).
/// </summary>
public sealed class LiveForecastScore(IReadOnlyList<ScoredForecast> forecasts)
{
    /// <summary>Target on the mean |error| of the forecasts made at 50%, per corpus (nats).</summary>
    public const double Target50 = 0.02;
    /// <summary>Target on the mean |error| of the forecasts made at 25%, per corpus (nats).</summary>
    public const double Target25 = 0.05;
    /// <summary>The coverage of nominal 80% bands that counts as calibrated: at least this ...</summary>
    public const double CoverageLow = 0.7;
    /// <summary>... and at most this.</summary>
    public const double CoverageHigh = 0.9;

    /// <summary>Every scored forecast.</summary>
    public IReadOnlyList<ScoredForecast> Forecasts { get; } = forecasts ?? throw new ArgumentNullException(nameof(forecasts));

    /// <summary>Scores per (corpus, schedule, fraction), in a stable order.</summary>
    public IEnumerable<((string Corpus, string Schedule, double Fraction) Key, ForecastGroupScore Score)> ByGroup() =>
        Forecasts.GroupBy(f => (f.Corpus, f.Schedule, f.Check.Fraction))
            .OrderBy(g => g.Key.Corpus, StringComparer.Ordinal).ThenBy(g => g.Key.Schedule, StringComparer.Ordinal).ThenBy(g => g.Key.Fraction)
            .Select(g => (g.Key, ForecastGroupScore.Of(g.ToList())));

    /// <summary>Scores per (corpus, fraction) over all schedules.</summary>
    public IEnumerable<((string Corpus, double Fraction) Key, ForecastGroupScore Score)> ByCorpusAndFraction() =>
        Forecasts.GroupBy(f => (f.Corpus, f.Check.Fraction))
            .OrderBy(g => g.Key.Corpus, StringComparer.Ordinal).ThenBy(g => g.Key.Fraction)
            .Select(g => (g.Key, ForecastGroupScore.Of(g.ToList())));

    /// <summary>All forecasts together.</summary>
    public ForecastGroupScore Overall => ForecastGroupScore.Of(Forecasts.ToList());

    /// <summary>Whether the mean |error| at <paramref name="fraction"/> is within <paramref name="target"/> on every corpus (calibrated forecasts only when asked; false when a corpus has none).</summary>
    public bool ErrorTargetMet(double fraction, double target, bool calibratedOnly) =>
        TargetMet(fraction, target, score => calibratedOnly ? score.CalibratedMeanAbsError : score.MeanAbsError);

    /// <summary>Whether the mean |<see cref="ScoredForecast.SmoothedError"/>| at <paramref name="fraction"/> is within <paramref name="target"/> on every corpus.</summary>
    public bool SmoothedErrorTargetMet(double fraction, double target) => TargetMet(fraction, target, score => score.MeanAbsSmoothedError);

    // Whether `error` of every corpus's forecasts at `fraction` is within `target` (false when there are none).
    private bool TargetMet(double fraction, double target, Func<ForecastGroupScore, double> error) =>
        ByCorpusAndFraction().Where(g => g.Key.Fraction == fraction).ToList() is { Count: > 0 } groups
        && groups.All(g => error(g.Score) <= target);

    /// <summary>Whether the bands' coverage lies in [<see cref="CoverageLow"/>, <see cref="CoverageHigh"/>].</summary>
    public bool CoverageTargetMet(bool calibratedOnly)
    {
        double coverage = calibratedOnly ? Overall.CalibratedCoverage : Overall.Coverage;
        return coverage >= CoverageLow && coverage <= CoverageHigh;
    }

    /// <summary>The Markdown tables: per group, then per run, then the verdicts.</summary>
    public string Table()
    {
        var s = new StringBuilder();
        void Line(FormattableString text) => s.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"| corpus | schedule | at | n | calibrated | mean error | mean abs error (train) | mean abs error (eval) | mean band width | band holds | abs error, calibrated | band holds, calibrated | mean error, smoothed | mean abs error, smoothed | band holds, smoothed |");
        Line($"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (key, score) in ByGroup())
        {
            Line($"| {key.Corpus} | {key.Schedule} | {Percent(key.Fraction)} | {score.Count} | {score.Calibrated} | {score.MeanError:+0.000;-0.000;+0.000} | {score.MeanAbsError:F3} | {score.MeanAbsEvalError:F3} | {score.MeanBandWidth:F3} | {Percent(score.Coverage)} | {Nan(score.CalibratedMeanAbsError, "F3")} | {Percent(score.CalibratedCoverage)} | {score.MeanSmoothedError:+0.000;-0.000;+0.000} | {score.MeanAbsSmoothedError:F3} | {Percent(score.SmoothedCoverage)} |");
        }
        s.AppendLine();
        Line($"| corpus | at | n | calibrated | mean abs error (train) | band holds | abs error, calibrated | band holds, calibrated | mean abs error, smoothed | band holds, smoothed |");
        Line($"|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (key, score) in ByCorpusAndFraction())
        {
            Line($"| {key.Corpus} | {Percent(key.Fraction)} | {score.Count} | {score.Calibrated} | {score.MeanAbsError:F3} | {Percent(score.Coverage)} | {Nan(score.CalibratedMeanAbsError, "F3")} | {Percent(score.CalibratedCoverage)} | {score.MeanAbsSmoothedError:F3} | {Percent(score.SmoothedCoverage)} |");
        }
        s.AppendLine();
        Line($"| run | at | step | forecast [band] | calibrated | final training | final eval | error (train) | band holds | smoothing lag | error, smoothed |");
        Line($"|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var f in Forecasts.OrderBy(f => f.Corpus, StringComparer.Ordinal).ThenBy(f => f.Schedule, StringComparer.Ordinal).ThenBy(f => f.Seed).ThenBy(f => f.Check.Fraction))
        {
            Line($"| {f.Corpus} {f.Schedule} seed {f.Seed} | {Percent(f.Check.Fraction)} | {f.Check.Step} | {f.Check.FinalLoss:F3} [{f.Check.Lower:F3}, {f.Check.Upper:F3}] | {(f.Check.Calibrated ? "yes" : "no")} | {f.FinalTrainingLoss:F3} | {f.FinalEvalLoss:F3} | {f.Error:+0.000;-0.000;+0.000} | {(f.Covered ? "yes" : "no")} | {f.Check.SmoothingLag:F4} | {f.SmoothedError:+0.000;-0.000;+0.000} |");
        }
        s.AppendLine();
        var overall = Overall;
        Line($"Targets: mean |error| at 50% ≤ {Target50} on every corpus: {Verdict(0.5, Target50)}; at 25% ≤ {Target25}: {Verdict(0.25, Target25)}; 80% bands hold the outcome in {Percent(CoverageLow)}–{Percent(CoverageHigh)} of the forecasts: all {Percent(overall.Coverage)} ({CoverageTargetMet(false)}), calibrated {Percent(overall.CalibratedCoverage)} ({CoverageTargetMet(true)}); {overall.Calibrated} of {overall.Count} forecasts calibrated.");
        Line($"The same against the smoothed loss forecast (like against like: the final training loss is the tracker's moving average, which lags the loss): at 50% {SmoothedErrorTargetMet(0.5, Target50)}, at 25% {SmoothedErrorTargetMet(0.25, Target25)}; bands hold {Percent(overall.SmoothedCoverage)}.");
        return s.ToString();
    }

    private string Verdict(double fraction, double target) => $"all {ErrorTargetMet(fraction, target, false)}, calibrated {ErrorTargetMet(fraction, target, true)}";

    private static string Percent(double share) => double.IsNaN(share) ? "–" : (100 * share).ToString("0", CultureInfo.InvariantCulture) + "%";

    private static string Nan(double value, string format) => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);
}
