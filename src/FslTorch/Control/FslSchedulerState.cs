namespace FslTorch.Control;

/// <summary>
/// What an <see cref="FslScheduler"/> needs to resume: the step whose rate is applied and, for a WSD schedule,
/// its decay start (which a monitor may have moved). Serialise it with System.Text.Json.
/// </summary>
/// <param name="Step">The step whose rate the optimizer uses next (steps before it were taken).</param>
/// <param name="DecayStartStep">The decay start of a WSD schedule; null for other schedules.</param>
public sealed record FslSchedulerState(long Step, long? DecayStartStep);
