using System.Diagnostics;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using MathNet.Numerics.LinearAlgebra;

namespace FslTorch.Fitting;

/// <summary>
/// Fits one loss-curve law to the runs of several model sizes at once (docs/fsl-spec.md's laws, extended in N):
/// the time exponents and the decay response are shared by every size, the irreducible loss and the amplitude of
/// the power law in time (A; c1 in the practical FSL) follow power laws in the size,
/// <code>
/// L0(N) = E + B·(N/N_ref)^(−b),   A(N) = A_ref·(N/N_ref)^(−a),
/// </code>
/// with N_ref the largest fitted size. The objective is <see cref="LawFitter"/>'s (Huber on log loss over every
/// point of every run); the start comes from each size fitted alone (shared parameters: their median; E, B, b and
/// A_ref, a: regressions on the sizes' own L0 and A). At least three distinct sizes are needed (L0(N) has three
/// parameters). The result predicts any size, the fitted ones and others (<see cref="SizeLawFit.ForSize(double)"/>).
/// </summary>
public static class SizeLawFitter
{
    /// <summary>Fits <paramref name="law"/> to <paramref name="curves"/> jointly; never throws for a poor or failed fit (see <see cref="SizeLawFit.Succeeded"/>).</summary>
    /// <exception cref="ArgumentException">Fewer than three distinct sizes, a size that is not a finite number &gt; 0, or invalid curves or options.</exception>
    public static SizeLawFit Fit(LossCurveLaw law, IReadOnlyList<SizedCurve> curves, FitOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(law);
        ArgumentNullException.ThrowIfNull(curves);
        options ??= new FitOptions();
        options.Validate();
        for (int c = 0; c < curves.Count; c++)
        {
            var curve = curves[c] ?? throw new ArgumentException($"curves[{c}] is null.", nameof(curves));
            ArgumentNullException.ThrowIfNull(curve.Curve, $"curves[{c}].Curve");
            if (!(curve.ModelSize > 0) || !double.IsFinite(curve.ModelSize))
                throw new ArgumentException($"curves[{c}]: the model size must be a finite number > 0; got {curve.ModelSize}.", nameof(curves));
        }
        var sizes = curves.Select(c => c.ModelSize).Distinct().Order().ToArray();
        if (sizes.Length < 3)
            throw new ArgumentException($"A size law needs runs of at least 3 model sizes (L0(N) = E + B·N^(−b) has three parameters); got {sizes.Length} ({string.Join(", ", sizes)}).", nameof(curves));

        var clock = Stopwatch.StartNew();
        double scale = curves.Max(c => LawFitter.Max(c.Curve.Schedule.LearningRates));
        if (!(scale > 0)) throw new ArgumentException("Every learning rate is zero.", nameof(curves));
        var layout = new Layout(law, sizes[^1]);

        // Each size alone: the starting point, and what the joint fit is compared with.
        var alone = sizes.Select(size => LawFitter.Fit(new FitProblem(law, curves.Where(c => c.ModelSize == size).Select(c => c.Curve).ToList())
        {
            LearningRateScale = scale,
        }, options, cancellationToken)).ToArray();
        var usable = alone.Select((fit, i) => (fit, size: sizes[i])).Where(x => x.fit.Succeeded).ToArray();
        if (usable.Length < 3)
        {
            return SizeLawFit.Failed(law, scale, layout.ReferenceSize, sizes, alone,
                $"Only {usable.Length} of {sizes.Length} sizes could be fitted alone; the size law needs 3.", clock.Elapsed);
        }
        var start = layout.Start(usable.Select(x => (x.size, (IReadOnlyList<double>)x.fit.Parameters)).ToArray());

        var data = new JointData(law.WithKernelTolerance(options.KernelTolerance).WithSourceBlocks(options.SourceBlockFraction), layout, curves, scale, options, cancellationToken);
        int q = layout.Count;
        var leastSquares = new HuberLeastSquares(data.Predict, data.LogObserved, data.Weights, new double[q], new double[q], options);
        if (!double.IsFinite(leastSquares.Objective(start)))
        {
            return SizeLawFit.Failed(law, scale, layout.ReferenceSize, sizes, alone, "The start from the sizes fitted alone cannot be evaluated jointly.", clock.Elapsed);
        }
        Refined best;
        try
        {
            best = leastSquares.Refine(start, options.HuberRounds, options.MaxIterations);
        }
        catch (Exception e) when (e is ArithmeticException or ArgumentException or InvalidOperationException or MathNet.Numerics.Optimization.MaximumIterationsException or MathNet.Numerics.Optimization.EvaluationException)
        {
            return SizeLawFit.Failed(law, scale, layout.ReferenceSize, sizes, alone, $"The joint fit failed: {e.Message}", clock.Elapsed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return SizeLawFit.Failed(law, scale, layout.ReferenceSize, sizes, alone, "Cancelled.", clock.Elapsed);
        }
        return new SizeLawFit(law, scale, layout, best.Coordinates, best.Covariance, best.Objective, best.Reason, sizes, alone, clock.Elapsed,
            best.Reason == FitExitReason.Converged ? $"Converged after {best.Iterations} iterations." : $"Stopped at the iteration limit after {best.Iterations} iterations.");
    }

    /// <summary>
    /// Fits <paramref name="law"/> to every size of <paramref name="curves"/> but the largest and predicts the largest
    /// size's curves (<see cref="SizeHoldout"/>): how far the size law extrapolated on these proxies, which calibrates
    /// the band of a prediction for a larger size (<see cref="SizeHoldout.Band"/>). Null when fewer than four sizes
    /// leave fewer than three to fit, or when the fit without the largest size failed or cannot predict its curves.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Fit"/>.</exception>
    public static SizeHoldout? HoldOutLargest(LossCurveLaw law, IReadOnlyList<SizedCurve> curves, FitOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var sizes = curves.Select(c => c?.ModelSize ?? throw new ArgumentException("A curve is null.", nameof(curves))).Distinct().Order().ToArray();
        if (sizes.Length < 4) return null;
        double held = sizes[^1];
        var fit = Fit(law, curves.Where(c => c.ModelSize != held).ToList(), options, cancellationToken);
        if (!fit.Succeeded) return null;
        var atHeld = fit.ForSize(held);
        var finalErrors = new List<double>();
        var tailErrors = new List<double>();
        var relative = new List<double>();
        foreach (var curve in curves.Where(c => c.ModelSize == held).Select(c => c.Curve))
        {
            if (curve.Steps.Count == 0) continue;
            double[] predicted;
            try
            {
                predicted = atHeld.Predict(curve.Schedule.LearningRates.ToArray(), curve.Steps.ToArray(), fast: true);
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                return null;
            }
            if (!predicted.All(double.IsFinite)) return null;
            // The curve's last fifth in windows of 2% of its points (the last one the final error's): each window's mean
            // error, with the per-step noise averaged out.
            int window = Math.Max(1, curve.Steps.Count / 50);
            var windowErrors = new List<double>();
            for (int end = curve.Steps.Count; end > 0 && windowErrors.Count < SizeHoldout.TailWindows; end -= window)
            {
                int start = Math.Max(0, end - window);
                windowErrors.Add(Enumerable.Range(start, end - start).Average(i => predicted[i] - curve.Losses[i]));
            }
            finalErrors.Add(windowErrors[0]);
            tailErrors.AddRange(windowErrors.Select(Math.Abs));
            relative.AddRange(curve.Losses.Select((loss, i) => Math.Abs(predicted[i] - loss) / loss));
        }
        return finalErrors.Count == 0 ? null : new SizeHoldout(held, sizes[^2], finalErrors.Average(), relative.Average(), fit) { TailError = tailErrors.Average() };
    }

    /// <summary>
    /// The joint parameter vector z: the law's parameters in their fitted coordinates, with L0 replaced by
    /// (ln E, ln B, ln b) and A by (ln A_ref, a).
    /// </summary>
    internal sealed class Layout
    {
        public Layout(LossCurveLaw law, double referenceSize)
        {
            Law = law;
            ReferenceSize = referenceSize;
            L0 = law.IndexOf("L0");
            A = law.IndexOf(law.AmplitudeParameter);
            AmplitudeName = law.Parameters[A].Name;
            var names = new List<string>();
            for (int j = 0; j < law.Parameters.Count; j++)
            {
                if (j == L0) names.AddRange(["E", "B", "b"]);
                else if (j == A) names.AddRange([AmplitudeName + "_ref", "a"]);
                else names.Add(law.Parameters[j].Name);
            }
            Names = names;
        }

        public LossCurveLaw Law { get; }
        public double ReferenceSize { get; }
        public int L0 { get; }
        public int A { get; }
        public string AmplitudeName { get; }
        public IReadOnlyList<string> Names { get; }
        public int Count => Names.Count;

        // Where law parameter j starts in z.
        private int Offset(int j) => j + (j > L0 ? 2 : 0) + (j > A ? 1 : 0);

        private bool IsLog(int j) => Law.Parameters[j].Scale == ParameterScale.Log;

        /// <summary>The fitted values of <paramref name="z"/> by <see cref="Names"/> (E, B, b, A_ref as themselves, not their logarithms).</summary>
        public Dictionary<string, double> Named(IReadOnlyList<double> z)
        {
            var named = new Dictionary<string, double>();
            for (int j = 0; j < Law.Parameters.Count; j++)
            {
                int o = Offset(j);
                if (j == L0)
                {
                    (named["E"], named["B"], named["b"]) = (Math.Exp(z[o]), Math.Exp(z[o + 1]), Math.Exp(z[o + 2]));
                }
                else if (j == A)
                {
                    (named[AmplitudeName + "_ref"], named["a"]) = (Math.Exp(z[o]), z[o + 1]);
                }
                else
                {
                    named[Law.Parameters[j].Name] = IsLog(j) ? Math.Exp(z[o]) : z[o];
                }
            }
            return named;
        }

        /// <summary>The law's parameters at size <paramref name="size"/> and, when asked, ∂θ_j/∂z (rows: law parameters).</summary>
        public double[] Parameters(IReadOnlyList<double> z, double size, double[,]? derivative = null)
        {
            int p = Law.Parameters.Count;
            var theta = new double[p];
            double logRatio = Math.Log(size / ReferenceSize);
            for (int j = 0; j < p; j++)
            {
                int o = Offset(j);
                if (j == L0)
                {
                    double e = Math.Exp(z[o]), bAmp = Math.Exp(z[o + 1]), bExp = Math.Exp(z[o + 2]);
                    double term = bAmp * Math.Exp(-bExp * logRatio);
                    theta[j] = e + term;
                    if (derivative != null)
                    {
                        derivative[j, o] = e;
                        derivative[j, o + 1] = term;
                        derivative[j, o + 2] = -term * logRatio * bExp;
                    }
                }
                else if (j == A)
                {
                    theta[j] = Math.Exp(z[o] - z[o + 1] * logRatio);
                    if (derivative != null)
                    {
                        derivative[j, o] = theta[j];
                        derivative[j, o + 1] = -theta[j] * logRatio;
                    }
                }
                else
                {
                    theta[j] = IsLog(j) ? Math.Exp(z[o]) : z[o];
                    if (derivative != null) derivative[j, o] = IsLog(j) ? theta[j] : 1;
                }
            }
            return theta;
        }

        /// <summary>z from the sizes fitted alone: shared parameters at their median coordinate, E, B, b and A_ref, a by regression.</summary>
        public double[] Start(IReadOnlyList<(double Size, IReadOnlyList<double> Parameters)> fits)
        {
            var z = new double[Count];
            for (int j = 0; j < Law.Parameters.Count; j++)
            {
                int o = Offset(j);
                if (j == L0)
                {
                    var (e, bAmp, bExp) = PowerLawWithFloor(fits.Select(f => (Math.Log(f.Size / ReferenceSize), f.Parameters[L0])).ToArray());
                    (z[o], z[o + 1], z[o + 2]) = (Math.Log(e), Math.Log(bAmp), Math.Log(bExp));
                }
                else if (j == A)
                {
                    // ln A = ln A_ref − a·ln(N/N_ref): least squares on the sizes' own amplitudes.
                    var points = fits.Select(f => (X: Math.Log(f.Size / ReferenceSize), Y: Math.Log(f.Parameters[A]))).ToArray();
                    double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
                    double sxx = points.Sum(p => (p.X - mx) * (p.X - mx)), sxy = points.Sum(p => (p.X - mx) * (p.Y - my));
                    double slope = sxx > 0 ? sxy / sxx : 0;
                    (z[o], z[o + 1]) = (my - slope * mx, -slope);
                }
                else
                {
                    var values = fits.Select(f => IsLog(j) ? Math.Log(f.Parameters[j]) : f.Parameters[j]).Order().ToArray();
                    z[o] = values[values.Length / 2];
                }
            }
            return z;
        }

        // L0_i ≈ E + B·exp(−b·x_i) with x_i = ln(N_i/N_ref): for each b on a grid, (E, B) by least squares with
        // E ≥ 0 and B > 0; the best b. Falls back to a flat L0 (tiny B) when the sizes' L0 do not fall with N.
        private static (double E, double B, double Exponent) PowerLawWithFloor(IReadOnlyList<(double X, double L0)> points)
        {
            double minimum = points.Min(p => p.L0);
            (double, double, double) best = (0.99 * minimum, 0.01 * minimum, 0.3);
            double bestError = double.PositiveInfinity;
            for (double exponent = 0.05; exponent <= 2.0001; exponent += 0.05)
            {
                var u = points.Select(p => Math.Exp(-exponent * p.X)).ToArray();
                double mu = u.Average(), ml = points.Average(p => p.L0);
                double suu = u.Sum(x => (x - mu) * (x - mu)), sul = u.Select((x, i) => (x - mu) * (points[i].L0 - ml)).Sum();
                if (!(suu > 0)) continue;
                double bAmp = sul / suu, e = ml - bAmp * mu;
                if (!(bAmp > 0) || !(e > 0)) continue;
                double error = points.Select((p, i) => Math.Pow(p.L0 - e - bAmp * u[i], 2)).Sum();
                if (error < bestError) (bestError, best) = (error, (e, bAmp, exponent));
            }
            return best;
        }
    }

    /// <summary>Every run's points in one vector, and the joint model's ln L̂ and ∂ln L̂/∂z.</summary>
    private sealed class JointData
    {
        private readonly LossCurveLaw _law;
        private readonly Layout _layout;
        private readonly (SampledSchedule Schedule, int[] Steps, int Offset, double Size)[] _curves;
        private readonly CancellationToken _cancellation;

        public JointData(LossCurveLaw fittingLaw, Layout layout, IReadOnlyList<SizedCurve> curves, double scale, FitOptions options, CancellationToken cancellation)
        {
            _law = fittingLaw;
            _layout = layout;
            _cancellation = cancellation;
            var points = FitPoints.Of([.. curves.Select(c => c.Curve)], scale, options, fittingLaw);
            _curves = [.. points.Curves.Select((c, i) => (c.Schedule, c.Steps, c.Offset, curves[i].ModelSize))];
            LogObserved = points.LogObserved;
            Weights = points.Weights;
        }

        public double[] LogObserved { get; }
        public double[] Weights { get; }

        public bool Predict(double[] z, double[] logPredicted, double[]? jacobian)
        {
            _cancellation.ThrowIfCancellationRequested();
            int p = _law.Parameters.Count, q = _layout.Count;
            try
            {
                foreach (var (schedule, steps, offset, size) in _curves)
                {
                    var chain = jacobian == null ? null : new double[p, q];
                    var theta = _layout.Parameters(z, size, chain);
                    if (theta.Any(v => !double.IsFinite(v))) return false;
                    var losses = new double[steps.Length];
                    var rows = jacobian == null ? null : new double[steps.Length * p];
                    _law.Evaluate(theta, schedule, steps, losses, rows);
                    for (int i = 0; i < steps.Length; i++)
                    {
                        if (!(losses[i] > 0) || !double.IsFinite(losses[i])) return false;
                        logPredicted[offset + i] = Math.Log(losses[i]);
                        if (rows == null) continue;
                        for (int k = 0; k < q; k++)
                        {
                            double value = 0;
                            for (int j = 0; j < p; j++) value += rows[i * p + j] * chain![j, k];
                            value /= losses[i];
                            if (!double.IsFinite(value)) return false;
                            jacobian![(offset + i) * q + k] = value;
                        }
                    }
                }
                return true;
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                return false;
            }
        }
    }
}
