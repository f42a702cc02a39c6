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
    /// <summary>The steps (+1) of the refits that cooldown probes said ahead will bring (<see cref="Forecaster.ExpectProbe"/>), still to come.</summary>
    public IReadOnlyList<long> ExpectedProbeRefits { get; init; } = [];
    /// <summary>The first step of the fits (chosen by <see cref="ForecasterOptions.ChooseFitStart"/>; FromStep before any choice).</summary>
    public long? FitStart { get; init; }
    /// <summary>The step (+1) of the last search for the fit's start (0: none).</summary>
    public long FitStartSearchedAt { get; init; }
    /// <summary>The warm start for the next refit (the parameters of the forecast in force).</summary>
    public IReadOnlyList<double>? LatestParameters { get; init; }
    /// <summary>
    /// The adaptive refit interval's work budget at the checkpoint, so that a resumed run plans its refits as it would
    /// have without the interruption (null in checkpoints written before it was kept: the budget then starts afresh).
    /// </summary>
    public ForecasterBudgetState? Budget { get; init; }
}

/// <summary>
/// The work budget of a <see cref="Forecaster"/> with the adaptive refit interval (<see cref="ForecasterOptions.WallTimeShare"/>):
/// the wall time it has run and spent so far and the refits planned from them. The time between a checkpoint and its
/// resumption counts for nothing.
/// </summary>
public sealed record ForecasterBudgetState
{
    /// <summary>The wall time from the forecaster's first step to the checkpoint.</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>The forecaster's first step.</summary>
    public long FirstStep { get; init; }
    /// <summary>The work charged to the forecaster on the training thread (<see cref="Forecaster.WallTime"/>).</summary>
    public TimeSpan Work { get; init; }
    /// <summary>The per-step work its caller charged to its share (<see cref="Forecaster.LoopWallTime"/>).</summary>
    public TimeSpan LoopWork { get; init; }
    /// <summary>The wall time of its background refits (<see cref="Forecaster.BackgroundWallTime"/>).</summary>
    public TimeSpan BackgroundWork { get; init; }
    /// <summary>The wall time of the last background refit that finished (zero: none yet).</summary>
    public TimeSpan LastBackgroundRefit { get; init; }
    /// <summary>The last refit step (−1: none yet).</summary>
    public long LastRefitStep { get; init; } = -1;
    /// <summary>The work of the last refit step.</summary>
    public TimeSpan LastRefitWork { get; init; }
    /// <summary>The refit steps before the last one.</summary>
    public int RefitsBefore { get; init; }
    /// <summary>The work of the refit steps before the last one, the first left out.</summary>
    public TimeSpan LaterRefitWork { get; init; }
    /// <summary>The step (+1) of the first refit step whose forecast can have a hindcast (0: not known).</summary>
    public long FirstCheckable { get; init; }
    /// <summary>The step (+1) of the latest refit a caller asked for (<see cref="Forecaster.RefitBy"/>; long.MaxValue: none).</summary>
    public long RefitBy { get; init; } = long.MaxValue;
}
