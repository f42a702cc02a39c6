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

    internal void Validate()
    {
        if (!Enum.IsDefined(Mode)) throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Mode must be None, Target, Abort or Marginal.");
        if (Mode != EarlyStoppingMode.None && !double.IsFinite(Threshold)) throw new ArgumentException($"Threshold must be set for {Mode} early stopping.", nameof(Threshold));
        if (Mode == EarlyStoppingMode.Marginal && Threshold < 0) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "A marginal threshold must be >= 0.");
        if (Patience < 1) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "Patience must be >= 1.");
    }
}
