using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>
/// Chooses where a fit should start from the data: early transients (a plateau before the loss drops, the end of
/// a warmup, a loss spike the run recovers from) follow no loss-curve law, and a fit that includes them
/// extrapolates worse. Each candidate start is fitted up to the last quarter of the observed span and judged twice:
/// how closely it follows its own points (a transient inside the window leaves residuals no smooth law can remove;
/// within <see cref="Tolerance"/> of the best candidate), and how well it predicts the held-out last quarter, the
/// way a forecast is used (within <see cref="HeldOutTolerance"/> of the best, so a window too short to extrapolate
/// from is not chosen). The earliest accepted candidate is kept (more data where the data allow), and the boundary
/// between the last rejected and the first accepted candidate is refined by bisection.
/// </summary>
public static class FitStartSearch
{
    /// <summary>A candidate is accepted when its residual on its own window is at most this factor times the best one's.</summary>
    public const double Tolerance = 1.25;

    /// <summary>
    /// ... and its error on the held-out quarter at most this factor times the best one's (looser: an extrapolation
    /// from fewer points scatters more, and the held-out error of a window that holds a transient need not be larger).
    /// </summary>
    public const double HeldOutTolerance = 2;

    /// <summary>The share of the observed span (at the end) held out to validate candidate starts.</summary>
    public const double ValidationShare = 0.25;

    // The fits a search makes at most (six coarse candidates, three bisections) plus the refit from the chosen start:
    // what a caller budgeting its time counts a search as, in fits.
    internal const int CostInFits = 10;

    /// <summary>
    /// The chosen start for <paramref name="problem"/>'s one curve (its prior is used for every candidate fit, and
    /// its warm start, when it has one, is the only start each candidate fit refines), and the candidates tried; null when the curve is too short to validate on (fewer than
    /// <paramref name="minPoints"/> points to fit from the latest coarse candidate, or fewer than 3 to validate on).
    /// Candidates lie in [<paramref name="earliest"/>, the middle of the span before the held-out quarter]: six
    /// coarse ones 10% of that span apart, then <paramref name="refinements"/> bisections. A candidate whose fit is
    /// cancelled through <paramref name="cancellationToken"/> counts as one that failed.
    /// </summary>
    public static FitStartChoice? Choose(FitProblem problem, long earliest, FitOptions options, int minPoints, int refinements = 3,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(options);
        if (problem.Curves.Count != 1) throw new ArgumentException("The search chooses the start of one curve.", nameof(problem));
        var (law, curve) = (problem.Law, problem.Curves[0]);
        var usable = curve.Where(step => step >= earliest);
        if (usable.Count == 0) return null;
        long from = usable.Steps[0], t = usable.Steps[^1] + 1;
        long validateAfter = from + (long)Math.Floor((1 - ValidationShare) * (t - from));
        var held = Enumerable.Range(0, usable.Count).Where(i => usable.Steps[i] > validateAfter).ToArray();
        if (held.Length < 3) return null;
        long span = validateAfter - from;
        var tried = new List<(long Start, double HeldOutError, double WindowError)>();

        // (RMS error on the held-out quarter, RMS residual in the fitted window), weighted by the points' counts.
        (double Held, double Window) Errors(long start)
        {
            var window = usable.Where(step => step >= start && step <= validateAfter);
            (double, double) errors = (double.PositiveInfinity, double.PositiveInfinity);
            if (window.Count >= Math.Max(minPoints, law.Parameters.Count))
            {
                // With a warm start (a refit's previous parameters) each candidate refines that point only: a search
                // costs about as much as one full fit instead of one per candidate.
                var fit = LawFitter.Fit(problem with { Curves = [window], WarmStartOnly = problem.InitialGuess != null }, options, cancellationToken);
                if (fit.Succeeded)
                {
                    var rates = usable.Schedule.LearningRates.ToArray();
                    double heldError = Rms(usable, held, fit.Predict(rates, held.Select(i => usable.Steps[i]).ToArray()));
                    var inside = Enumerable.Range(0, window.Count).ToArray();
                    double windowError = Rms(window, inside, fit.Predict(rates, window.Steps.ToArray()));
                    if (double.IsFinite(heldError) && double.IsFinite(windowError)) errors = (heldError, windowError);
                }
            }
            tried.Add((start, errors.Item1, errors.Item2));
            return errors;
        }

        var coarse = Enumerable.Range(0, 6).Select(j => from + span * j / 10).Distinct().ToList();
        var errors = coarse.Select(Errors).ToList();
        double bestHeld = errors.Min(e => e.Held), bestWindow = errors.Min(e => e.Window);
        if (!double.IsFinite(bestHeld)) return new FitStartChoice(from, tried, Found: false);
        bool Accepted((double Held, double Window) e) => e.Window <= Tolerance * bestWindow && e.Held <= HeldOutTolerance * bestHeld;
        int first = errors.FindIndex(e => Accepted(e));
        if (first < 0)
        {
            // The best-following window extrapolates too badly: the closest-following among those that extrapolate.
            double closest = errors.Where(e => e.Held <= HeldOutTolerance * bestHeld).Min(e => e.Window);
            first = errors.FindIndex(e => e.Window == closest && e.Held <= HeldOutTolerance * bestHeld);
        }
        long rejected = first > 0 ? coarse[first - 1] : from, accepted = coarse[first];
        for (int r = 0; r < refinements && first > 0 && accepted - rejected > 1; r++)
        {
            long middle = (rejected + accepted) / 2;
            if (Accepted(Errors(middle))) accepted = middle;
            else rejected = middle;
        }
        return new FitStartChoice(accepted, tried, Found: true);
    }

    private static double Rms(ObservedCurve curve, int[] indices, double[] predicted)
    {
        double weight = indices.Sum(i => curve.Weights[i]);
        double sum = indices.Select((i, j) => curve.Weights[i] * Math.Pow(curve.Losses[i] - predicted[j], 2)).Sum();
        return weight > 0 ? Math.Sqrt(sum / weight) : double.PositiveInfinity;
    }
}
