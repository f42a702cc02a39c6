using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>
/// The outcome of a fit: parameters in peak-normalised units (η divided by <see cref="LearningRateScale"/>),
/// how the fit ended, and how far to trust it. A failed fit says so here rather than throwing.
/// </summary>
public sealed class FitResult
{
    internal FitResult(LossCurveLaw law, double learningRateScale, double[] parameters, double objective, FitExitReason exitReason,
        int iterations, TimeSpan wallTime, double[] standardErrors, double[,] covariance, string message)
    {
        Law = law;
        LearningRateScale = learningRateScale;
        Parameters = parameters;
        Objective = objective;
        ExitReason = exitReason;
        Iterations = iterations;
        WallTime = wallTime;
        StandardErrors = standardErrors;
        Covariance = covariance;
        Message = message;
    }

    /// <summary>The fitted law.</summary>
    public LossCurveLaw Law { get; }
    /// <summary>The LR unit the parameters refer to.</summary>
    public double LearningRateScale { get; }
    /// <summary>θ, natural units (NaN when the fit failed).</summary>
    public IReadOnlyList<double> Parameters { get; }
    /// <summary>Σ Huber(ln L − ln L̂)·weight (+ the prior's penalty), at the optimum.</summary>
    public double Objective { get; }
    /// <summary>Why the fit stopped.</summary>
    public FitExitReason ExitReason { get; }
    /// <summary>Minimizer iterations over all starts and rounds.</summary>
    public int Iterations { get; }
    /// <summary>Time spent.</summary>
    public TimeSpan WallTime { get; }
    /// <summary>Standard error of each parameter, natural units (delta method; NaN when unavailable).</summary>
    public IReadOnlyList<double> StandardErrors { get; }
    /// <summary>Covariance of the fitted coordinates (log of log-scale parameters), from the Jacobian at the optimum.</summary>
    public double[,] Covariance { get; }
    /// <summary>A human-readable note on the outcome.</summary>
    public string Message { get; }
    /// <summary>Whether the parameters can be used.</summary>
    public bool Succeeded => ExitReason is FitExitReason.Converged or FitExitReason.IterationLimit;

    /// <summary>The parameters by name.</summary>
    public IReadOnlyDictionary<string, double> NamedParameters =>
        Law.Parameters.Select((p, i) => (p.Name, Value: Parameters[i])).ToDictionary(x => x.Name, x => x.Value);

    /// <summary>
    /// The predicted loss at <paramref name="steps"/> of a run with the per-step LRs <paramref name="learningRates"/>
    /// (raw units), with the fitted parameters or <paramref name="parameters"/> (e.g. a draw from
    /// <see cref="DrawParameters"/>). Every prediction from a fit goes through here (the forecaster, the decay
    /// controller, the samples and the benchmarks). <paramref name="fast"/> evaluates as forecasts do during training
    /// (a looser kernel tolerance and merged constant-LR sources, <see cref="Control.Forecasting"/>: about 1e-6 apart).
    /// </summary>
    /// <exception cref="InvalidOperationException">The fit did not succeed.</exception>
    public double[] Predict(IReadOnlyList<double> learningRates, ReadOnlySpan<int> steps, IReadOnlyList<double>? parameters = null, bool fast = false)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        return PredictNormalised(Normalise(learningRates, LearningRateScale), steps, parameters, fast);
    }

    /// <summary>
    /// How far a moving average of the losses with <paramref name="halfLifeSteps"/> (the loss tracker's smoothed loss,
    /// <see cref="Tracking.LossTrackerOptions.EmaHalfLifeSteps"/>) is predicted to stand above the loss itself at the last
    /// step of a run with the per-step LRs <paramref name="learningRates"/>: the predicted curve over the last ten
    /// half-lives, averaged as the tracker averages (<see cref="Tracking.LossTracker.SmoothingLag"/>). Positive while the
    /// curve falls; <see cref="Control.Forecast.SmoothingLag"/> is this for the schedule in force.
    /// </summary>
    /// <exception cref="InvalidOperationException">The fit did not succeed.</exception>
    /// <exception cref="ArgumentException">The law cannot evaluate that stretch, or the half-life is not positive.</exception>
    public double SmoothingLag(IReadOnlyList<double> learningRates, double halfLifeSteps) =>
        SmoothingLagNormalised(Normalise(learningRates, LearningRateScale), halfLifeSteps);

    internal double SmoothingLagNormalised(SampledSchedule normalised, double halfLifeSteps)
    {
        if (!(halfLifeSteps > 0) || !double.IsFinite(halfLifeSteps)) throw new ArgumentOutOfRangeException(nameof(halfLifeSteps), halfLifeSteps, "The half-life must be a finite number > 0.");
        int n = normalised.Count;
        int from = (int)Math.Max(0, n - Math.Ceiling(10 * halfLifeSteps));
        return Tracking.LossTracker.SmoothingLag(PredictNormalised(normalised, Enumerable.Range(from, n - from).ToArray()), halfLifeSteps);
    }

    /// <summary>As <see cref="Predict"/> for rates already divided by <see cref="LearningRateScale"/>.</summary>
    internal double[] PredictNormalised(SampledSchedule normalised, ReadOnlySpan<int> steps, IReadOnlyList<double>? parameters = null, bool fast = true)
    {
        if (!Succeeded) throw new InvalidOperationException($"The fit did not succeed ({ExitReason}: {Message}).");
        var law = fast ? Control.Forecasting.Evaluator(Law) : Law;
        return law.Predict((parameters ?? Parameters).ToArray(), normalised, steps);
    }

    /// <summary>
    /// The prediction of <see cref="Predict"/> (evaluated as forecasts are, <c>fast</c>) with its band over
    /// <paramref name="draws"/> parameter vectors from <see cref="DrawParameters"/> (seed <paramref name="seed"/>):
    /// at each step the <paramref name="quantile"/> and 1 − <paramref name="quantile"/> quantiles of the draws that the
    /// law can evaluate (a draw it cannot is left out), widened to hold the prediction. The one band rule of the
    /// library: forecasts, <c>fsl predict</c>, <c>fsl decay</c>, <c>fsl plot</c> and the proxy predictions use it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The fit did not succeed.</exception>
    public PredictionBand PredictWithBand(IReadOnlyList<double> learningRates, ReadOnlySpan<int> steps, int draws = 64, double quantile = 0.1, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        return PredictWithBandNormalised(Normalise(learningRates, LearningRateScale), steps.ToArray(), draws, quantile, seed);
    }

    /// <summary>As <see cref="PredictWithBand"/> for rates already divided by <see cref="LearningRateScale"/>.</summary>
    internal PredictionBand PredictWithBandNormalised(SampledSchedule normalised, int[] steps, int draws, double quantile, int seed)
    {
        if (draws < 0) throw new ArgumentOutOfRangeException(nameof(draws), draws, "draws must be >= 0.");
        if (!(quantile > 0 && quantile < 0.5)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "quantile must be in (0, 0.5).");
        var curve = PredictNormalised(normalised, steps);
        var predictions = new List<double[]>(draws);
        foreach (var theta in DrawParameters(draws, seed))
        {
            try
            {
                var values = PredictNormalised(normalised, steps, theta);
                if (values.All(double.IsFinite)) predictions.Add(values);
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                // a draw outside what the law can evaluate
            }
        }
        var lower = (double[])curve.Clone();
        var upper = (double[])curve.Clone();
        if (predictions.Count >= 2)
        {
            var column = new double[predictions.Count];
            int low = (int)Math.Round(quantile * (column.Length - 1)), high = (int)Math.Round((1 - quantile) * (column.Length - 1));
            for (int i = 0; i < steps.Length; i++)
            {
                for (int d = 0; d < column.Length; d++) column[d] = predictions[d][i];
                Array.Sort(column);
                lower[i] = Math.Min(curve[i], column[low]);
                upper[i] = Math.Max(curve[i], column[high]);
            }
        }
        return new PredictionBand(steps, curve, lower, upper, quantile, predictions.Count);
    }

    /// <summary>
    /// A fit restored from its saved parameters (a forecast log, a parameter file): it predicts like the fit it came
    /// from; it has no covariance, so no draws.
    /// </summary>
    public static FitResult FromParameters(LossCurveLaw law, double learningRateScale, IReadOnlyList<double> parameters)
    {
        ArgumentNullException.ThrowIfNull(law);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count != law.Parameters.Count) throw new ArgumentException($"{law.Name} has {law.Parameters.Count} parameters; got {parameters.Count}.", nameof(parameters));
        if (!(learningRateScale > 0) || !double.IsFinite(learningRateScale)) throw new ArgumentOutOfRangeException(nameof(learningRateScale), learningRateScale, "learningRateScale must be a finite number > 0.");
        int p = parameters.Count;
        var unknown = new double[p, p];
        for (int i = 0; i < p; i++) for (int j = 0; j < p; j++) unknown[i, j] = double.NaN;
        return new FitResult(law, learningRateScale, parameters.ToArray(), double.NaN, FitExitReason.Converged, 0, TimeSpan.Zero,
            Enumerable.Repeat(double.NaN, p).ToArray(), unknown, "restored from saved parameters");
    }

    /// <summary>
    /// A fit read back from a file written by <see cref="SaveParameters"/>: it predicts like the saved fit, and draws
    /// parameters from its covariance when the file has one (files from before it was saved have none).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a parameter file of a known law, or a value is missing.</exception>
    public static FitResult LoadParameters(string path)
    {
        System.Text.Json.Nodes.JsonObject root;
        try
        {
            root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path} holds no JSON object.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON ({e.Message}).", e);
        }
        string name = (string?)root["law"] ?? throw new InvalidDataException($"{path} names no law.");
        LossCurveLaw law;
        try
        {
            law = LossCurveLaws.Create(name);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        double scale = (double?)root["learning_rate_scale"] ?? throw new InvalidDataException($"{path} has no learning_rate_scale.");
        var values = root["parameters"]?.AsObject() ?? throw new InvalidDataException($"{path} has no parameters.");
        var parameters = law.Parameters.Select(p => (double?)values[p.Name] ?? throw new InvalidDataException($"{path} has no value for {p.Name}.")).ToArray();
        var restored = FromParameters(law, scale, parameters);
        if (root["covariance"] is not System.Text.Json.Nodes.JsonArray rows || rows.Count != parameters.Length) return restored;
        int n = parameters.Length;
        var covariance = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) covariance[i, j] = (double?)rows[i]?[j] ?? double.NaN;
        }
        var errors = root["standard_errors"]?.AsObject();
        var standardErrors = law.Parameters.Select(p => (double?)errors?[p.Name] ?? double.NaN).ToArray();
        return new FitResult(law, scale, parameters, double.NaN, FitExitReason.Converged, 0, TimeSpan.Zero, standardErrors, covariance, $"read from {path}");
    }

    /// <summary>
    /// Writes the fit as JSON: the law's name, the LR unit, and each parameter with its standard error, for
    /// <see cref="ParameterPrior.FromFile"/> (e.g. a calibration run whose fit becomes the prior of a long one).
    /// </summary>
    public void SaveParameters(string path)
    {
        if (!Succeeded) throw new InvalidOperationException($"The fit did not succeed ({ExitReason}: {Message}); there is nothing to save.");
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["law"] = Law.Name,
            ["learning_rate_scale"] = LearningRateScale,
            ["parameters"] = new System.Text.Json.Nodes.JsonObject(Law.Parameters.Select((p, i) =>
                KeyValuePair.Create(p.Name, (System.Text.Json.Nodes.JsonNode?)Parameters[i]))),
            ["standard_errors"] = new System.Text.Json.Nodes.JsonObject(Law.Parameters.Select((p, i) =>
                KeyValuePair.Create(p.Name, double.IsFinite(StandardErrors[i]) ? (System.Text.Json.Nodes.JsonNode?)StandardErrors[i] : null))),
            // In the fitted coordinates (the logarithm of log-scale parameters), rows and columns in parameter order.
            ["covariance"] = new System.Text.Json.Nodes.JsonArray(Enumerable.Range(0, Parameters.Count).Select(i =>
                (System.Text.Json.Nodes.JsonNode?)new System.Text.Json.Nodes.JsonArray(Enumerable.Range(0, Parameters.Count)
                    .Select(j => double.IsFinite(Covariance[i, j]) ? (System.Text.Json.Nodes.JsonNode?)Covariance[i, j] : null).ToArray())).ToArray()),
        };
        AtomicFile.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// Parameter vectors drawn from the fit's Gaussian approximation N(ẑ, Σ) in the fitted coordinates (log of
    /// log-scale parameters), for uncertainty bands. Each coordinate's shift is truncated at ±2 (a factor e² for
    /// a log-scale parameter): beyond that the quadratic approximation behind Σ says nothing, and a weakly
    /// identified parameter would otherwise produce absurd curves. Empty when the covariance is unusable.
    /// Deterministic per seed.
    /// </summary>
    public IReadOnlyList<double[]> DrawParameters(int count, int seed)
    {
        int p = Parameters.Count;
        if (!Succeeded || count <= 0) return [];
        var covariance = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(Covariance);
        if (covariance.Enumerate().Any(v => !double.IsFinite(v))) return [];
        MathNet.Numerics.LinearAlgebra.Matrix<double> root;
        try
        {
            root = covariance.Add(MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseIdentity(p) * 1e-12).Cholesky().Factor;
        }
        catch (ArgumentException)
        {
            return []; // not positive definite
        }
        var random = new Random(seed);
        var draws = new List<double[]>(count);
        for (int s = 0; s < count; s++)
        {
            var shift = root * MathNet.Numerics.LinearAlgebra.Vector<double>.Build.Dense(p, _ => MathNet.Numerics.Distributions.Normal.Sample(random, 0, 1));
            draws.Add(Enumerable.Range(0, p).Select(j =>
            {
                double step = Math.Clamp(shift[j], -MaxDrawShift, MaxDrawShift);
                return Law.Parameters[j].Scale == ParameterScale.Log ? Parameters[j] * Math.Exp(step) : Parameters[j] + step;
            }).ToArray());
        }
        return draws;
    }

    private const double MaxDrawShift = 2;

    internal static SampledSchedule Normalise(IReadOnlyList<double> learningRates, double scale)
    {
        var normalised = new double[learningRates.Count];
        for (int i = 0; i < normalised.Length; i++) normalised[i] = learningRates[i] / scale;
        return new SampledSchedule(normalised);
    }
}
