namespace FslTorch.Control;

/// <summary>Options of forecast-based early stopping.</summary>
public sealed record EarlyStoppingOptions
{
    /// <summary>The mode; none by default.</summary>
    public EarlyStoppingMode Mode { get; init; }

    /// <summary>Target loss (Target), loss threshold (Abort), or nats per 1000 steps (Marginal).</summary>
    public double Threshold { get; init; } = double.NaN;

    /// <summary>Consecutive forecasts that must agree before an Abort or Marginal stop.</summary>
    public int Patience { get; init; } = 2;

    /// <summary>
    /// Abort mode: the errors that a reference run's forecasts made at fractions of its budget (a finished run of the
    /// same sweep, <see cref="ForecastError.Of"/>). A vote widens the band's lower edge by the size of the reference's
    /// error at the same fraction (<see cref="ForecastError.SizeAt"/>): a band calibrated on this run's past alone
    /// cannot see a change of the curve that is still ahead, and a run of the same model and data shows how far
    /// forecasts made that early were off. Empty (the default): the band as it is.
    /// </summary>
    public IReadOnlyList<ForecastError> ReferenceErrors { get; init; } = [];

    internal void Validate()
    {
        if (!Enum.IsDefined(Mode)) throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Mode must be None, Target, Abort or Marginal.");
        if (Mode != EarlyStoppingMode.None && !double.IsFinite(Threshold)) throw new ArgumentException($"Threshold must be set for {Mode} early stopping.", nameof(Threshold));
        if (Mode == EarlyStoppingMode.Marginal && Threshold < 0) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "A marginal threshold must be >= 0.");
        if (Patience < 1) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "Patience must be >= 1.");
        if (ReferenceErrors is null) throw new ArgumentNullException(nameof(ReferenceErrors), "ReferenceErrors must not be null (empty: none).");
        for (int i = 0; i < ReferenceErrors.Count; i++)
        {
            var e = ReferenceErrors[i] ?? throw new ArgumentException($"ReferenceErrors[{i}] is null.", nameof(ReferenceErrors));
            if (!(e.Fraction > 0 && e.Fraction <= 1) || !double.IsFinite(e.Error)) throw new ArgumentOutOfRangeException(nameof(ReferenceErrors), e, $"ReferenceErrors[{i}] needs a fraction in (0, 1] and a finite error.");
            if (i > 0 && e.Fraction < ReferenceErrors[i - 1].Fraction) throw new ArgumentException("ReferenceErrors must be in order of fraction.", nameof(ReferenceErrors));
        }
    }
}
