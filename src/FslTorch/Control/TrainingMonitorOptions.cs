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
    /// <summary>
    /// After this many consecutive NaN or infinite losses the monitor warns once and signals
    /// <see cref="TrainingSignal.Diverged"/> at every step until a finite loss comes back, instead of forecasting and
    /// deciding from the data before (default 20).
    /// </summary>
    public int MaxNonFiniteLosses { get; init; } = 20;

    /// <summary>
    /// With losses given as tensors (<see cref="TrainingMonitor.OnStepEnd(long, TorchSharp.torch.Tensor)"/>): how many
    /// steps' losses are gathered on the device before one copy reads them (also at every refit step). Default 16.
    /// </summary>
    public int LossReadInterval { get; init; } = 16;

    /// <summary>
    /// Whether the monitor keeps the runtime's finalizer thread parked while the loop runs and lets the finalizers it held
    /// back run at its step ends (at most once a second), where the training thread is between native calls. With
    /// TorchSharp 0.107 a garbage collection started by any other thread during a native call can finalize that call's
    /// implicit <c>Scalar</c> and abort the process (TorchSharp PRs #1434/#1496); held, such finalizers wait until the call
    /// has returned. Call <see cref="TrainingMonitor.OnStepEnd(long, double)"/> on the training thread after every step
    /// and dispose of the monitor when the loop ends. A loop that calls <c>GC.WaitForPendingFinalizers</c> waits up to 31 s
    /// (the hold then lets go by itself until the next step end). Off by default; TinyGpt turns it on.
    /// </summary>
    public bool HoldFinalizersDuringSteps { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> for options no run can use.</summary>
    public void Validate()
    {
        if (Tracker is null || Forecaster is null || EarlyStopping is null) throw new ArgumentException("Tracker, Forecaster and EarlyStopping options must not be null.");
        if (MaxNonFiniteLosses < 1) throw new ArgumentOutOfRangeException(nameof(MaxNonFiniteLosses), MaxNonFiniteLosses, "MaxNonFiniteLosses must be >= 1.");
        if (LossReadInterval < 1) throw new ArgumentOutOfRangeException(nameof(LossReadInterval), LossReadInterval, "LossReadInterval must be >= 1.");
        EarlyStopping.Validate();
    }
}
