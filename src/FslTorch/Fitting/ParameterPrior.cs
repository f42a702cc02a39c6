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
    /// <summary>The standard deviation of each fitted coordinate.</summary>
    public IReadOnlyList<double> StandardDeviations { get; }

    /// <summary>
    /// A prior centred on an earlier fit, with the given spread for the named parameters and the others free
    /// (or all parameters, when <paramref name="parameters"/> is null).
    /// </summary>
    public static ParameterPrior FromFit(FitResult fit, double standardDeviation, IEnumerable<string>? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(fit);
        var names = parameters?.ToHashSet();
        var spread = fit.Law.Parameters.Select(p => names == null || names.Contains(p.Name) ? standardDeviation : double.PositiveInfinity).ToArray();
        return new ParameterPrior(fit.Parameters, spread);
    }

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
