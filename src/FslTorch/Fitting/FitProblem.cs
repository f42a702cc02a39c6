using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>
/// What a fit is about: the law, the curves it is fitted to jointly, and what is known beforehand (a prior, a
/// warm start, the LR unit). How it is solved (tolerances, iterations, starts) is <see cref="FitOptions"/>.
/// </summary>
/// <param name="Law">The law to fit.</param>
/// <param name="Curves">The curves, fitted jointly with shared parameters.</param>
public sealed record FitProblem(LossCurveLaw Law, IReadOnlyList<ObservedCurve> Curves)
{
    /// <summary>An optional Gaussian prior (MAP fit); converted to the fit's LR unit when it carries another.</summary>
    public ParameterPrior? Prior { get; init; }

    /// <summary>A starting point (natural units, in the fit's LR unit) tried before the grid, e.g. the previous fit.</summary>
    public IReadOnlyList<double>? InitialGuess { get; init; }

    /// <summary>When set, only <see cref="InitialGuess"/> is refined (a warm-started refit).</summary>
    public bool WarmStartOnly { get; init; }

    /// <summary>
    /// The LR unit: η is divided by it before the law sees it, so T counts steps at this rate. Null uses the
    /// largest LR of the curves (the peak), which makes the parameters O(1).
    /// </summary>
    public double? LearningRateScale { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> for a problem no fit can take.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Law);
        ArgumentNullException.ThrowIfNull(Curves);
        if (Curves.Count == 0) throw new ArgumentException("At least one curve is needed.", nameof(Curves));
        for (int c = 0; c < Curves.Count; c++)
        {
            if (Curves[c] is null) throw new ArgumentException($"Curves[{c}] is null.", nameof(Curves));
        }
        Prior?.Validate(Law);
        if (InitialGuess != null && InitialGuess.Count != Law.Parameters.Count)
        {
            throw new ArgumentException($"InitialGuess has {InitialGuess.Count} values; {Law.Name} has {Law.Parameters.Count} parameters.", nameof(InitialGuess));
        }
        if (WarmStartOnly && InitialGuess == null) throw new ArgumentException("WarmStartOnly needs an InitialGuess.", nameof(WarmStartOnly));
        if (LearningRateScale is double scale && (!(scale > 0) || !double.IsFinite(scale)))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRateScale), scale, "LearningRateScale must be a finite number > 0.");
        }
    }
}
