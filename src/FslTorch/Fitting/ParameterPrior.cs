using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>
/// A Gaussian prior on a law's fitted coordinates (the logarithm of log-scale parameters, the value of the
/// others), turning the fit into penalised (MAP) least squares around <see cref="Mean"/> (docs/fsl-spec.md §6).
/// Typically built from an earlier fit (a proxy or a shorter run) with <see cref="FromFit"/>.
/// </summary>
public sealed class ParameterPrior
{
    /// <param name="mean">The prior mean in natural units (peak-normalised LR), one per law parameter.</param>
    /// <param name="standardDeviations">
    /// The prior's standard deviation of each fitted coordinate (for a log-scale parameter, of its logarithm:
    /// 0.1 ≈ ±10%); +∞ leaves a parameter free.
    /// </param>
    public ParameterPrior(IReadOnlyList<double> mean, IReadOnlyList<double> standardDeviations)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(standardDeviations);
        if (mean.Count != standardDeviations.Count) throw new ArgumentException("mean and standardDeviations must have the same length.", nameof(standardDeviations));
        for (int i = 0; i < mean.Count; i++)
        {
            if (!double.IsFinite(mean[i])) throw new ArgumentException($"mean[{i}] must be finite.", nameof(mean));
            if (!(standardDeviations[i] > 0)) throw new ArgumentException($"standardDeviations[{i}] must be > 0 (or +infinity).", nameof(standardDeviations));
        }
        Mean = mean.ToArray();
        StandardDeviations = standardDeviations.ToArray();
    }

    /// <summary>The prior mean, natural units.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>
    /// The LR unit <see cref="Mean"/> is in (the <see cref="FitResult.LearningRateScale"/> of the fit it came from);
    /// a fit in another unit converts the mean first (<see cref="InUnit"/>). Null: the fit's own unit, whatever it
    /// is (a peak-normalised prior such as <see cref="BuiltIn"/>).
    /// </summary>
    public double? LearningRateScale { get; init; }
    /// <summary>The standard deviation of each fitted coordinate.</summary>
    public IReadOnlyList<double> StandardDeviations { get; }

    /// <summary>
    /// Whether the prior was measured on runs (a calibration, proxy or earlier run: <see cref="FromFit"/>,
    /// <see cref="FromFile"/>, the constructor) rather than a built-in default (<see cref="BuiltIn"/>). Only a
    /// measured prior counts as evidence of a run's decay response.
    /// </summary>
    public bool IsMeasured { get; init; } = true;

    /// <summary>
    /// A prior centred on an earlier fit, in that fit's LR unit, with the given spread on <paramref name="parameters"/>
    /// (the law's decay-response parameters when null, as for <see cref="FromFile"/> and <see cref="BuiltIn"/>) and
    /// the others free.
    /// </summary>
    public static ParameterPrior FromFit(FitResult fit, double standardDeviation, IEnumerable<string>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(fit);
        return Build(fit.Law, fit.Parameters.ToArray(), standardDeviation, parameters, fit.LearningRateScale);
    }

    /// <summary>
    /// A prior from a parameter file written by <see cref="FitResult.SaveParameters"/>, for <paramref name="law"/>
    /// (its name must match), with the given spread on <paramref name="parameters"/> (the law's decay-response
    /// parameters when null) and the others free.
    /// </summary>
    public static ParameterPrior FromFile(string path, LossCurveLaw law, double standardDeviation, IEnumerable<string>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(law);
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))?.AsObject()
                   ?? throw new InvalidDataException($"{path} holds no JSON object.");
        string? name = (string?)root["law"];
        if (name != law.Name)
        {
            throw new InvalidDataException($"{path} holds a fit of '{name}', not of '{law.Name}', the law the prior is for (`fsl fit --law {law.Name}` writes one).");
        }
        var values = root["parameters"]?.AsObject() ?? throw new InvalidDataException($"{path} has no parameters.");
        var mean = law.Parameters.Select(p => (double?)values[p.Name] ?? throw new InvalidDataException($"{path} has no value for {p.Name}.")).ToArray();
        double? scale = (double?)root["learning_rate_scale"];
        if (scale is double unit && !(unit > 0 && double.IsFinite(unit))) throw new InvalidDataException($"{path}: learning_rate_scale must be a finite number > 0.");
        return Build(law, mean, standardDeviation, parameters, scale);
    }

    /// <summary>
    /// This prior with its mean in the LR unit <paramref name="learningRateScale"/> (a fit's peak LR): converted with
    /// <see cref="LossCurveLaw.ConvertLearningRateUnit"/> when the prior came from a run with another unit, as is
    /// otherwise (the spreads are on relative coordinates and stay).
    /// </summary>
    public ParameterPrior InUnit(LossCurveLaw law, double learningRateScale)
    {
        ArgumentNullException.ThrowIfNull(law);
        if (LearningRateScale is not double unit || unit == learningRateScale) return this;
        var mean = law.ConvertLearningRateUnit(Mean.ToArray(), unit / learningRateScale);
        return new ParameterPrior(mean, StandardDeviations) { IsMeasured = IsMeasured, LearningRateScale = learningRateScale };
    }

    /// <summary>
    /// Built-in defaults for when no earlier fit exists, in peak-normalised units: for <c>fsl-direct</c> the decay
    /// response of our fit of the Multi-Power Law paper's 100M curves (C 0.0014, τ 32, β 3.57, D 0.0032; the 25M fit
    /// leaves C at 0); for <c>fsl-direct-omega</c> that law's fit of the same curves (C 0.20, τ 4.3, β 1.17, D 0.0051,
    /// ω 1.64); for <c>fsl</c> that of our fit of the 25M curves (B 0.15, r 0.01, c4 0.23, γ 0.26); for
    /// <c>mpl</c> the published 25M fit converted to peak-normalised units (B 0.109, C 0.113, β 0.583,
    /// γ 0.641). A broad spread (1.0 in log space, a factor e) leaves the run's own data in charge. Built-in
    /// priors are not measured on the run's kind of model (<see cref="IsMeasured"/> is false).
    /// </summary>
    public static ParameterPrior BuiltIn(LossCurveLaw law, double standardDeviation = 1.0)
    {
        ArgumentNullException.ThrowIfNull(law);
        double[] mean = law.Name switch
        {
            "fsl" => [3.0, 30, 0.5, 0.15, 0.01, 0.23, 0.26],
            "fsl-direct" => [3.0, 5.1, 0.0014, 32, 0.47, 3.57, 0.0032],
            "fsl-direct-omega" => [3.0, 11.1, 0.20, 4.3, 0.48, 1.17, 0.0051, 1.64],
            "mpl" => [3.0, 0.5, 0.5, 0.109, 0.113, 0.583, 0.641],
            _ => throw new ArgumentException($"No built-in prior for '{law.Name}'; fit a calibration run and use FromFit or FromFile.", nameof(law)),
        };
        var prior = Build(law, mean, standardDeviation, null);
        return new ParameterPrior(prior.Mean, prior.StandardDeviations) { IsMeasured = false };
    }

    private static ParameterPrior Build(LossCurveLaw law, double[] mean, double standardDeviation, IEnumerable<string>? parameters, double? learningRateScale = null)
    {
        var names = (parameters ?? law.DecayResponseParameters).ToHashSet();
        foreach (var name in names) law.IndexOf(name); // unknown names throw
        return new ParameterPrior(mean, law.Parameters.Select(p => names.Contains(p.Name) ? standardDeviation : double.PositiveInfinity).ToArray())
        {
            LearningRateScale = learningRateScale,
        };
    }

    /// <summary>The weight 1/σ² of each coordinate's penalty (0 for a free parameter).</summary>
    internal double[] PenaltyWeights() =>
        StandardDeviations.Select(s => double.IsPositiveInfinity(s) ? 0 : 1 / (s * s)).ToArray();

    internal void Validate(LossCurveLaw law)
    {
        if (Mean.Count != law.Parameters.Count)
        {
            throw new ArgumentException($"The prior has {Mean.Count} parameters; {law.Name} has {law.Parameters.Count}.");
        }
        for (int i = 0; i < Mean.Count; i++)
        {
            if (law.Parameters[i].Scale == ParameterScale.Log && Mean[i] <= 0)
            {
                throw new ArgumentException($"The prior mean of {law.Parameters[i].Name} must be > 0.");
            }
        }
    }
}
