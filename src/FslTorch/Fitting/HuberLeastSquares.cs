using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace FslTorch.Fitting;

/// <summary>One refined start: the fitted coordinates, the objective there, and how the minimizer ended.</summary>
internal sealed record Refined(double[] Coordinates, double Objective, int Iterations, FitExitReason Reason, Matrix<double>? Covariance);

/// <summary>
/// Computes the predictions of a model at every point, ln L̂, in the fitted coordinates z, and optionally
/// ∂ln L̂/∂z (row-major, points × coordinates); false where the model cannot be evaluated.
/// </summary>
internal delegate bool LogModel(double[] coordinates, double[] logPredicted, double[]? jacobian);

/// <summary>
/// The objective every FslTorch fit minimises, and its minimizer:
/// <code>Σ_i w_i·Huber_δ(ln L_i − ln L̂_i(z))/δ² + ½·Σ_j ((z_j − μ_j)/σ_j)²</code>
/// The data term is divided by δ², so that it reads as a Gaussian log-likelihood with noise δ near the fit
/// (Huber_δ(r)/δ² = r²/(2δ²) for |r| ≤ δ) and a prior's σ_j weighs against the data as in a MAP estimate; without
/// a prior the scale changes nothing.
/// by iteratively reweighted least squares (Huber's ψ(r)/r as weights) with MathNet's Levenberg–Marquardt
/// minimizer; the prior enters as extra rows. Holds one fit's data; not shared between fits.
/// </summary>
internal sealed class HuberLeastSquares
{
    private readonly LogModel _model;
    private readonly double[] _logObserved;
    private readonly double[] _userWeights;
    private readonly double[] _priorMean;   // fitted coordinates
    private readonly double[] _priorWeight; // 1/σ², 0 where free
    private readonly FitOptions _options;
    private readonly int _n;
    private readonly int _p;

    public HuberLeastSquares(LogModel model, double[] logObserved, double[] userWeights, double[] priorMean, double[] priorWeight, FitOptions options)
    {
        _model = model;
        _logObserved = logObserved;
        _userWeights = userWeights;
        _priorMean = priorMean;
        _priorWeight = priorWeight;
        _options = options;
        _n = logObserved.Length;
        _p = priorMean.Length;
    }

    private bool Predict(double[] coordinates, double[] logPredicted, double[]? jacobian) => _model(coordinates, logPredicted, jacobian);

    private static double Huber(double r, double delta) => Math.Abs(r) <= delta ? 0.5 * r * r : delta * (Math.Abs(r) - 0.5 * delta);

    private double Objective(double[] coordinates, double[] logPredicted)
    {
        double total = 0;
        double scale = 1 / (_options.HuberDelta * _options.HuberDelta);
        for (int i = 0; i < logPredicted.Length; i++) total += scale * _userWeights[i] * Huber(_logObserved[i] - logPredicted[i], _options.HuberDelta);
        for (int j = 0; j < _p; j++) total += 0.5 * _priorWeight[j] * Math.Pow(coordinates[j] - _priorMean[j], 2);
        return total;
    }

    /// <summary>The objective at <paramref name="coordinates"/>; +∞ where the model cannot be evaluated.</summary>
    public double Objective(double[] coordinates)
    {
        var predicted = new double[_n];
        return Predict(coordinates, predicted, null) ? Objective(coordinates, predicted) : double.PositiveInfinity;
    }

    /// <summary>Huber by iteratively reweighted Levenberg–Marquardt from one start.</summary>
    public Refined Refine(double[] start, int rounds, int maxIterations)
    {
        int n = _n;
        var coordinates = (double[])start.Clone();
        var predicted = new double[n];
        int iterations = 0;
        var reason = FitExitReason.Failed;
        Matrix<double>? covariance = null;
        var minimizer = new LevenbergMarquardtMinimizer(1e-3, _options.Tolerance, _options.Tolerance, _options.Tolerance, maxIterations);
        for (int round = 0; round < rounds; round++)
        {
            if (!Predict(coordinates, predicted, null)) break;
            // IRLS weights: Huber's ψ(r)/r, times the user's weights; then the prior's rows.
            var weights = new double[n + _p];
            for (int i = 0; i < n; i++)
            {
                double r = Math.Abs(_logObserved[i] - predicted[i]);
                weights[i] = _userWeights[i] * (r <= _options.HuberDelta ? 1 : _options.HuberDelta / r) / (_options.HuberDelta * _options.HuberDelta);
            }
            for (int j = 0; j < _p; j++) weights[n + j] = _priorWeight[j];
            var observed = _logObserved.Concat(_priorMean).ToArray();
            var model = ObjectiveFunction.NonlinearModel(Values, Derivatives, Vector<double>.Build.Dense(n + _p, i => i),
                Vector<double>.Build.Dense(observed), Vector<double>.Build.Dense(weights));
            var result = minimizer.FindMinimum(model, Vector<double>.Build.Dense(coordinates));
            iterations += result.Iterations;
            var next = result.MinimizingPoint.ToArray();
            if (next.Any(v => !double.IsFinite(v))) break;
            if (!double.IsFinite(Objective(next)))
            {
                if (InsideAlong(coordinates, next) is not { } inside) break;
                next = inside;
            }
            coordinates = next;
            covariance = result.Covariance;
            reason = result.ReasonForExit == ExitCondition.ExceedIterations ? FitExitReason.IterationLimit : FitExitReason.Converged;
        }
        return new Refined(coordinates, reason == FitExitReason.Failed ? double.PositiveInfinity : Objective(coordinates), iterations, reason, covariance);
    }

    // MathNet's Levenberg–Marquardt can stop on a step too small to go on (RelativePoints) that crosses the edge of the
    // law's domain (β → 1/2 in the direct FSL, whose kernel exponent 2 − 1/β reaches 0 there) and return that trial
    // point. The last point inside along the step, found by bisection, is kept when it is no worse than where the round
    // began; null when none is.
    private double[]? InsideAlong(double[] from, double[] to)
    {
        double inside = 0, outside = 1, begin = Objective(from);
        double[] At(double theta) => from.Select((v, j) => v + theta * (to[j] - v)).ToArray();
        for (int k = 0; k < 40; k++)
        {
            double middle = 0.5 * (inside + outside);
            if (double.IsFinite(Objective(At(middle)))) inside = middle;
            else outside = middle;
        }
        var point = At(inside);
        return inside > 0 && Objective(point) <= begin ? point : null;
    }

    // The minimizer asks for the values at a trial point and, when it accepts the point, for the Jacobian there. The
    // laws compute both in one pass for 1.3–4 times the cost of the values alone, so after an accepted point the next
    // trial's values come with its Jacobian, kept until the next point (most trials are accepted then); after a
    // rejected one, the values come alone (rejections come in runs while the damping grows).
    private double[]? _cachedAt;
    private double[]? _cachedJacobian;
    private bool _lastAccepted = true;

    private Vector<double> Values(Vector<double> z, Vector<double> x)
    {
        var coordinates = z.ToArray();
        var predicted = new double[_n];
        var rows = _lastAccepted ? new double[_n * _p] : null;
        var output = new double[_n + _p];
        _lastAccepted = false; // until the minimizer asks for the Jacobian here
        if (Predict(coordinates, predicted, rows))
        {
            (_cachedAt, _cachedJacobian) = (coordinates, rows);
        }
        else
        {
            // Outside the law's domain: a huge residual so that the step is rejected.
            for (int i = 0; i < _n; i++) predicted[i] = _logObserved[i] + 1e3;
            (_cachedAt, _cachedJacobian) = (null, null);
        }
        predicted.CopyTo(output, 0);
        coordinates.CopyTo(output, _n);
        return Vector<double>.Build.Dense(output);
    }

    private Matrix<double> Derivatives(Vector<double> z, Vector<double> x)
    {
        var coordinates = z.ToArray();
        bool atLastValues = _cachedAt != null && coordinates.AsSpan().SequenceEqual(_cachedAt);
        _lastAccepted |= atLastValues;
        var rows = atLastValues ? _cachedJacobian : null;
        if (rows == null)
        {
            rows = new double[_n * _p];
            if (!Predict(coordinates, new double[_n], rows)) rows = null;
        }
        var matrix = Matrix<double>.Build.Dense(_n + _p, _p);
        if (rows != null)
        {
            for (int i = 0; i < _n; i++)
            {
                for (int j = 0; j < _p; j++) matrix[i, j] = rows[i * _p + j];
            }
        }
        for (int j = 0; j < _p; j++) matrix[_n + j, j] = 1;
        return matrix;
    }
}
