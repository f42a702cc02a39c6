namespace FslTorch.Control;

/// <summary>How forecasts may stop a run early (docs/fsl-spec.md §7).</summary>
public enum EarlyStoppingMode
{
    /// <summary>Never.</summary>
    None,
    /// <summary>
    /// Start the cooldown as soon as the forecast says that starting it now reaches the target loss (its band's
    /// upper edge at or below the target), then stop as soon as the smoothed loss reaches the target.
    /// </summary>
    Target,
    /// <summary>
    /// Stop a run whose best reachable final loss within its budget is forecast to miss the threshold with
    /// confidence: even the band's lower edge of the best decay start stays above it, for <see cref="EarlyStoppingOptions.Patience"/> forecasts.
    /// </summary>
    Abort,
    /// <summary>
    /// Stop when the forecast gain from the remaining steps, (L̂(now) − L̂(N−1))/(N − 1 − now), falls below the
    /// threshold (nats per 1000 steps) for <see cref="EarlyStoppingOptions.Patience"/> forecasts in a row.
    /// </summary>
    Marginal,
}
