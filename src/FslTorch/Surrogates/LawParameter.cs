namespace FslTorch.Surrogates;

/// <summary>One parameter of a <see cref="LossCurveLaw"/>: its symbol, meaning, and how to fit it.</summary>
/// <param name="Name">The paper's symbol, e.g. "L0" or "c4".</param>
/// <param name="Description">What the parameter means.</param>
/// <param name="Scale">Log for positive parameters, linear otherwise.</param>
public sealed record LawParameter(string Name, string Description, ParameterScale Scale = ParameterScale.Log)
{
    private readonly double? _maximum;

    /// <summary>
    /// The largest value a fit may give this (log-scale) parameter; null: none. <see cref="Fitting.LawFitter"/> then
    /// works in the coordinate ln(θ/(max − θ)) instead of ln θ (the same for θ ≪ max), so every fit stays below it and
    /// one that the data push there ends close to it. (The joint fits of <see cref="Fitting.SizeLawFitter"/> start
    /// from such fits but do not hold the bound yet.)
    /// </summary>
    /// <exception cref="ArgumentException">The parameter is not log-scale, or the maximum is not a finite positive number.</exception>
    public double? Maximum
    {
        get => _maximum;
        init
        {
            if (value is double maximum && (Scale != ParameterScale.Log || !(maximum > 0) || !double.IsFinite(maximum)))
            {
                throw new ArgumentException($"{Name}: only a log-scale parameter takes a maximum, and it must be finite and > 0.", nameof(Maximum));
            }
            _maximum = value;
        }
    }
}
