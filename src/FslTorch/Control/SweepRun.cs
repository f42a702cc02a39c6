using FslTorch.Fitting;

namespace FslTorch.Control;

/// <summary>One run of an <see cref="EarlyAbortSweep"/>.</summary>
/// <param name="Setting">The setting the sweep varies (a peak LR, a model size).</param>
/// <param name="TotalSteps">The run's budget.</param>
/// <param name="StepsTaken">The optimizer steps it took (its budget when it finished).</param>
/// <param name="FinalLoss">Its final loss (for a stopped run, its loss when it stopped).</param>
/// <param name="StopReason">Why it was stopped early; null when it finished.</param>
/// <param name="Fit">Its latest fit (null when none): a finished run's decay response is the prior of the runs after it.</param>
public sealed record SweepRun(double Setting, long TotalSteps, long StepsTaken, double FinalLoss, string? StopReason, FitResult? Fit)
{
    /// <summary>Whether the run reached the end of its budget.</summary>
    public bool Finished => StopReason == null;

    /// <summary>
    /// The errors of its forecasts against its final loss (<see cref="ForecastError.Of"/>; empty when not known): a
    /// finished run's widen the Abort band of the runs after it (<see cref="EarlyStoppingOptions.ReferenceErrors"/>).
    /// </summary>
    public IReadOnlyList<ForecastError> ForecastErrors { get; init; } = [];
}
