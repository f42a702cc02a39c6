using FslTorch.Fitting;
using FslTorch.Surrogates;

namespace FslTorch.Control;

/// <summary>
/// A check of how well a law extrapolates on the run itself, made before acting on a forecast. A decision at
/// step t rests on an extrapolation from t to the end N; the hindcast fits the same law to the points up to
/// t' = t²/N (the same ratio, t/t' = N/t) and compares its prediction over the last stretch before t with the
/// loss observed there. A curve the law cannot follow (e.g. one that speeds up after a plateau, which no
/// power law in the intrinsic time does) shows up as an error that is large next to the drop the loss made
/// from t' to t. Early in a run t²/N lies just after the fit's first point; the truncated fit then spans at least
/// <see cref="MinFitRatio"/> times its first step (t' is raised to that), and the check extrapolates over a shorter
/// ratio than the forecast.
/// </summary>
/// <param name="FittedThrough">The last step of the truncated fit, t' (see <see cref="MinFitRatio"/>).</param>
/// <param name="CheckedThrough">The last step of the checked stretch (the later half of the steps from t' to t), t − 1.</param>
/// <param name="Predicted">The truncated fit's mean prediction over the checked stretch.</param>
/// <param name="Observed">The mean observed loss over the checked stretch.</param>
/// <param name="ObservedDrop">How far the observed loss fell from the stretch ending at t' to the checked stretch.</param>
/// <param name="StandardError">The standard error of <see cref="Observed"/> (the scatter of the stretch's points about the prediction).</param>
public sealed record Hindcast(long FittedThrough, long CheckedThrough, double Predicted, double Observed, double ObservedDrop, double StandardError)
{
    /// <summary>Predicted − observed (positive: the law extrapolated too pessimistically).</summary>
    public double Error => Predicted - Observed;

    /// <summary>
    /// Whether the error is within <paramref name="tolerance"/> of the observed drop, after two standard errors
    /// of observation noise.
    /// </summary>
    public bool Passes(double tolerance) => Math.Abs(Error) <= tolerance * Math.Max(ObservedDrop, 0) + 2 * StandardError;

    /// <summary>
    /// The least ratio between the truncated fit's last step and its first (+1 each): t' is at least this times the curve's
    /// first step. At a quarter of a run t²/N is a sixteenth of it, which for a fit that starts after the warmup can be a
    /// few dozen points hardly past that start; such a fit says little about the law on this run, and its error, grown to
    /// the forecast's horizon, made the bands of 48 GPU TinyGpt runs 1.8 (one corpus) and 3.8 nats (the other) wide on
    /// average at 25% of their budget while the forecasts erred by 0.10 and 0.15. With t' at twice the fit's first step
    /// those bands were 0.8 and 1.4 wide on average (8 of the 48 wider than before) and still held every final loss; the
    /// forecasts at 50% and 75% were the same (README, "Seventeenth session").
    /// </summary>
    public const double MinFitRatio = 2;

    /// <summary>
    /// Runs the hindcast for a decision after the last point of <paramref name="observed"/> (t − 1), in a run of
    /// <paramref name="totalSteps"/> steps: a fresh fit (no warm start, so an earlier fit cannot carry over)
    /// with <paramref name="options"/> and <paramref name="prior"/> on the points up to t' = max(t²/N, <see cref="MinFitRatio"/> × the first
    /// point's step), compared over the later half of the steps
    /// from t' to t (at least the last <paramref name="window"/> steps); the drop is measured from the
    /// <paramref name="window"/> steps ending at t'. Null when too few points lie before t', when t' raised to the least ratio
    /// leaves less than two windows before t, or the fit fails (or is cancelled
    /// through <paramref name="cancellationToken"/>).
    /// </summary>
    public static Hindcast? Run(LossCurveLaw law, ObservedCurve observed, long totalSteps, FitOptions options, int window, int minPoints, ParameterPrior? prior = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(law);
        ArgumentNullException.ThrowIfNull(observed);
        ArgumentNullException.ThrowIfNull(options);
        if (observed.Count == 0 || totalSteps < 2 || window < 1) return null;
        long t = observed.Steps[^1] + 1;
        long fittedThrough = LastFittedStep(t, totalSteps);
        long least = (long)Math.Ceiling(MinFitRatio * (observed.Steps[0] + 1)) - 1;
        if (least > fittedThrough)
        {
            fittedThrough = least;
            if (fittedThrough >= t - 1 - 2L * window) return null;
        }
        var early = observed.Where(step => step <= fittedThrough);
        if (early.Count < PointsNeeded(law, minPoints)) return null;
        // The checked stretch is the later half of (t', t), at least `window` steps: long enough to average noise out.
        long stretch = Math.Max(window, (t - 1 - fittedThrough) / 2);
        var checkedStretch = Indices(observed, t - 1 - stretch, t - 1);
        var reference = Indices(observed, fittedThrough - window, fittedThrough);
        if (checkedStretch.Count == 0 || reference.Count == 0 || checkedStretch[0] <= reference[^1]) return null;

        var fit = LawFitter.Fit(new FitProblem(law, [early]) { Prior = prior }, options, cancellationToken);
        if (!fit.Succeeded) return null;
        var steps = checkedStretch.Select(i => observed.Steps[i]).ToArray();
        var predicted = fit.Predict(observed.Schedule.LearningRates.ToArray(), steps);
        double weight = checkedStretch.Sum(i => observed.Weights[i]);
        if (!(weight > 0) || !predicted.All(double.IsFinite)) return null;
        double predictedMean = checkedStretch.Select((i, j) => observed.Weights[i] * predicted[j]).Sum() / weight;
        double observedMean = checkedStretch.Sum(i => observed.Weights[i] * observed.Losses[i]) / weight;
        double referenceMean = reference.Sum(i => observed.Weights[i] * observed.Losses[i]) / reference.Sum(i => observed.Weights[i]);
        // Scatter of the points about the prediction (a point that is a bin mean of w raw losses counts w times).
        double variance = checkedStretch.Select((i, j) => observed.Weights[i] * Math.Pow(observed.Losses[i] - predicted[j] - (observedMean - predictedMean), 2)).Sum()
                          / Math.Max(weight - 1, 1);
        double standardError = Math.Sqrt(variance / Math.Max(weight, 1));
        return new Hindcast(fittedThrough, t - 1, predictedMean, observedMean, referenceMean - observedMean, standardError);
    }

    /// <summary>
    /// The first t (a decision after step t − 1) at which a hindcast of <paramref name="observed"/>'s law has the points it
    /// needs before t²/N; null while the curve holds too few points to tell.
    /// </summary>
    internal static long? FirstPossible(LossCurveLaw law, ObservedCurve observed, long totalSteps, int minPoints)
    {
        int needed = PointsNeeded(law, minPoints);
        if (observed.Count < needed) return null;
        // LastFittedStep(t) ≥ the needed point's step s ⇔ t² ≥ N·(s + 1).
        long t = (long)Math.Ceiling(Math.Sqrt((double)totalSteps * (observed.Steps[needed - 1] + 1)));
        while (LastFittedStep(t, totalSteps) < observed.Steps[needed - 1]) t++; // rounding of the square root
        return t;
    }

    // The last step of the truncated fit for a decision at t: t' = t²/N (before the least ratio to the fit's first step).
    private static long LastFittedStep(long t, long totalSteps) => (long)Math.Floor((double)t * t / totalSteps) - 1;

    private static int PointsNeeded(LossCurveLaw law, int minPoints) => Math.Max(minPoints, law.Parameters.Count);

    private static List<int> Indices(ObservedCurve curve, long after, long through) =>
        Enumerable.Range(0, curve.Count).Where(i => curve.Steps[i] > after && curve.Steps[i] <= through).ToList();
}
