using System.Diagnostics;
using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>
/// Fits <see cref="FinalLossLaw"/> to the final losses of a sweep with the objective of every FslTorch fit:
/// Huber_δ on ln L residuals, in log-parameters (<see cref="HuberLeastSquares"/>). Starts: a small grid
/// over (E, a, b), with A and B set so that each term explains half of the excess loss at the median run.
/// </summary>
public static class FinalLossFitter
{
    /// <param name="observations">The final losses of the sweep.</param>
    /// <param name="prior">An optional Gaussian prior on (E, A, a, B, b).</param>
    /// <param name="options">Solver settings.</param>
    /// <param name="cancellationToken">Cancels the fit.</param>
    /// <exception cref="ArgumentException">Bad observations, prior or options.</exception>
    public static FinalLossFit Fit(IReadOnlyList<FinalLossObservation> observations, ParameterPrior? prior = null, FitOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(observations);
        options ??= new FitOptions();
        options.Validate();
        foreach (var o in observations)
        {
            if (o is null || !(o.ModelSize > 0) || !(o.DataSize > 0) || !(o.Loss > 0) || !double.IsFinite(o.Loss))
            {
                throw new ArgumentException($"Every observation needs N > 0, D > 0 and a finite loss > 0; got {o}.", nameof(observations));
            }
        }
        var clock = Stopwatch.StartNew();
        const int p = 5;
        var nan = Enumerable.Repeat(double.NaN, p).ToArray();
        if (observations.Count < p)
        {
            return new FinalLossFit(nan, nan, double.NaN, FitExitReason.Failed, 0, clock.Elapsed, $"{observations.Count} runs cannot determine {p} parameters.");
        }
        var logObserved = observations.Select(o => Math.Log(o.Loss)).ToArray();
        bool Model(double[] z, double[] logPredicted, double[]? jacobian)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var theta = z.Select(Math.Exp).ToArray();
            if (theta.Any(v => !double.IsFinite(v) || v <= 0)) return false;
            Span<double> gradient = stackalloc double[p];
            for (int i = 0; i < observations.Count; i++)
            {
                double loss = FinalLossLaw.Predict(theta, observations[i].ModelSize, observations[i].DataSize);
                if (!double.IsFinite(loss) || loss <= 0) return false;
                logPredicted[i] = Math.Log(loss);
                if (jacobian == null) continue;
                FinalLossLaw.Gradient(theta, observations[i].ModelSize, observations[i].DataSize, gradient);
                for (int j = 0; j < p; j++) jacobian[i * p + j] = gradient[j] * theta[j] / loss;
            }
            return true;
        }

        if (prior != null && prior.Mean.Count != p) throw new ArgumentException($"The prior has {prior.Mean.Count} parameters; the final-loss law has {p}.", nameof(prior));
        var priorMean = prior?.Mean.Select(m => Math.Log(m)).ToArray() ?? new double[p];
        var priorWeight = prior?.PenaltyWeights() ?? new double[p];
        var leastSquares = new HuberLeastSquares(Model, logObserved,
            observations.Select(_ => 1.0).ToArray(), priorMean, priorWeight, options);
        try
        {
            double minimum = observations.Min(o => o.Loss), maximum = observations.Max(o => o.Loss);
            double medianN = Median(observations.Select(o => o.ModelSize)), medianD = Median(observations.Select(o => o.DataSize));
            var starts = new List<(double[] Coordinates, double Objective)>();
            foreach (double fraction in new[] { 0.5, 0.8, 0.95 })
            foreach (double a in new[] { 0.2, 0.35, 0.5 })
            foreach (double b in new[] { 0.2, 0.35, 0.5 })
            {
                double e = fraction * minimum, half = Math.Max((0.5 * (minimum + maximum) - e) / 2, 1e-6);
                double[] z = [Math.Log(e), Math.Log(half) + a * Math.Log(medianN), Math.Log(a), Math.Log(half) + b * Math.Log(medianD), Math.Log(b)];
                double objective = leastSquares.Objective(z);
                if (double.IsFinite(objective)) starts.Add((z, objective));
            }
            Refined? best = null;
            int iterations = 0;
            foreach (var (start, _) in starts.OrderBy(s => s.Objective).Take(options.Starts))
            {
                var refined = leastSquares.Refine(start, options.HuberRounds, options.MaxIterations);
                iterations += refined.Iterations;
                if (refined.Objective < (best?.Objective ?? double.PositiveInfinity)) best = refined;
            }
            if (best == null) return new FinalLossFit(nan, nan, double.NaN, FitExitReason.Failed, iterations, clock.Elapsed, "No start reached a finite optimum.");
            var theta = best.Coordinates.Select(Math.Exp).ToArray();
            var errors = Enumerable.Range(0, p).Select(j => theta[j] * Math.Sqrt(best.Covariance?[j, j] ?? double.NaN)).ToArray();
            return new FinalLossFit(theta, errors, best.Objective, best.Reason, iterations, clock.Elapsed, $"{best.Reason} after {iterations} iterations.");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new FinalLossFit(nan, nan, double.NaN, FitExitReason.Cancelled, 0, clock.Elapsed, "Cancelled.");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
