using FslTorch.Tracking;

namespace FslTorch.Control;

/// <summary>A <see cref="TrainingMonitor"/> checkpoint, as plain data for System.Text.Json.</summary>
public sealed record TrainingMonitorState
{
    /// <summary>The tracker.</summary>
    public LossTrackerState Tracker { get; init; } = new();
    /// <summary>The forecaster.</summary>
    public ForecasterState Forecaster { get; init; } = new();
    /// <summary>The decay decisions so far.</summary>
    public IReadOnlyList<DecayDecision> Decisions { get; init; } = [];
    /// <summary>Consecutive forecasts that agreed on an early stop.</summary>
    public int StopVotes { get; init; }
    /// <summary>Consecutive non-finite losses at the checkpoint.</summary>
    public long NonFiniteRun { get; init; }
    /// <summary>The forecasts made so far (<see cref="TrainingMonitor.Forecasts"/>).</summary>
    public IReadOnlyList<ForecastRecord> Forecasts { get; init; } = [];
}
