using FslTorch.Tracking;

namespace FslTorch.Control;

/// <summary>Options of <see cref="TrainingMonitor"/>: one record per piece, each with the library defaults.</summary>
public sealed record TrainingMonitorOptions
{
    /// <summary>Loss tracking.</summary>
    public LossTrackerOptions Tracker { get; init; } = new();
    /// <summary>Refits and forecasts.</summary>
    public ForecasterOptions Forecaster { get; init; } = new();
    /// <summary>The WSD decay controller; null leaves the schedule alone.</summary>
    public DecayControllerOptions? DecayControl { get; init; } = new();
    /// <summary>Forecast-based early stopping; off by default.</summary>
    public EarlyStoppingOptions EarlyStopping { get; init; } = new();
}
