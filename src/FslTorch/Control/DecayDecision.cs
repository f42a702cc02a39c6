namespace FslTorch.Control;

/// <summary>One decision of a <see cref="WsdDecayController"/>, with its evidence.</summary>
/// <param name="Step">The step not yet taken when the decision was made.</param>
/// <param name="StartNow">Whether the decay starts at <see cref="Step"/>.</param>
/// <param name="DecayStartStep">The decay start in force after the decision (the plan while waiting).</param>
/// <param name="PredictedFinalLoss">The predicted loss at the last step with that start (weighed as the forecast weighs a decay longer than the run has seen, <see cref="Forecast.UnseenCooldownGain"/>).</param>
/// <param name="GainOfWaiting">Predicted final loss of starting now minus that of the best later start.</param>
/// <param name="GainUncertainty">Standard deviation of that gain over parameter draws (0 when unknown).</param>
/// <param name="Reason">Why, in words.</param>
/// <param name="Candidates">Every compared start with its predicted final loss.</param>
public sealed record DecayDecision(long Step, bool StartNow, long DecayStartStep, double PredictedFinalLoss, double GainOfWaiting,
    double GainUncertainty, string Reason, IReadOnlyList<DecayCandidate> Candidates)
{
    /// <summary>The hindcast checked before starting by the margin rule (null when none was made).</summary>
    public Hindcast? Hindcast { get; init; }

    /// <summary>
    /// Whether the forecast behind the decision had evidence of the run's decay response (see
    /// <see cref="DecayControllerOptions.RequireDecayEvidence"/>); only such decisions count towards
    /// <see cref="DecayControllerOptions.StableForecasts"/>. True for decisions restored from checkpoints that predate it.
    /// </summary>
    public bool HasDecayEvidence { get; init; } = true;
}

/// <summary>A decay start and the final loss predicted for it.</summary>
/// <param name="DecayStartStep">The start.</param>
/// <param name="PredictedFinalLoss">The predicted loss at step N − 1.</param>
public sealed record DecayCandidate(long DecayStartStep, double PredictedFinalLoss);
