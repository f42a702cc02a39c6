namespace FslTorch.Control;

/// <summary>
/// What a <see cref="Forecaster"/> needs to resume identically: the inputs of the refit still running at the
/// checkpoint (collected at the next refit step), as plain data for System.Text.Json.
/// </summary>
public sealed record ForecasterState
{
    /// <summary>The step of the pending refit (−1 when none).</summary>
    public long PendingStep { get; init; } = -1;
    /// <summary>The pending refit's points: step, loss, weight.</summary>
    public IReadOnlyList<double[]> PendingPoints { get; init; } = [];
    /// <summary>The pending refit's warm start.</summary>
    public IReadOnlyList<double>? PendingWarmStart { get; init; }
    /// <summary>The first step (+1) at which the next refit may happen (0: the next refit step of the grid).</summary>
    public long NextRefit { get; init; }
    /// <summary>The cooldown probes recorded so far.</summary>
    public IReadOnlyList<CooldownProbe> Probes { get; init; } = [];
    /// <summary>The first step of the fits (chosen by <see cref="ForecasterOptions.ChooseFitStart"/>; FromStep before any choice).</summary>
    public long? FitStart { get; init; }
    /// <summary>The step (+1) of the last search for the fit's start (0: none).</summary>
    public long FitStartSearchedAt { get; init; }
    /// <summary>The warm start for the next refit (the parameters of the forecast in force).</summary>
    public IReadOnlyList<double>? LatestParameters { get; init; }
}
