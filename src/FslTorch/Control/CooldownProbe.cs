namespace FslTorch.Control;

/// <summary>
/// A short cooldown run beside the main run: forked at <see cref="ForkStep"/> from a copy of the model and
/// optimizer, it trained <see cref="LearningRates"/>.Count steps at those learning rates (typically a quick
/// decay) on the batches the main run would see, while the main run went on untouched. Its losses show how much
/// a decay buys on this run, which a constant-LR curve cannot; the forecaster fits them jointly with the main
/// curve (the law's parameters are shared), so the controller has evidence of the decay response before it
/// decides. Plain data, checkpointed with the monitor.
/// </summary>
/// <param name="ForkStep">The first probe step: the main run's state before this step was copied.</param>
/// <param name="LearningRates">The probe's learning rate at steps ForkStep, ForkStep + 1, ….</param>
/// <param name="Losses">The probe's training loss at each of those steps.</param>
public sealed record CooldownProbe(long ForkStep, IReadOnlyList<double> LearningRates, IReadOnlyList<double> Losses)
{
    /// <summary>Checks the probe against its own fields; throws an <see cref="ArgumentException"/> naming the problem.</summary>
    public void Validate()
    {
        if (ForkStep < 1) throw new ArgumentOutOfRangeException(nameof(ForkStep), ForkStep, "ForkStep must be >= 1 (a probe forks from a trained state).");
        ArgumentNullException.ThrowIfNull(LearningRates);
        ArgumentNullException.ThrowIfNull(Losses);
        if (LearningRates.Count == 0 || LearningRates.Count != Losses.Count)
        {
            throw new ArgumentException($"A probe needs one loss per learning rate and at least one step (got {LearningRates.Count} rates, {Losses.Count} losses).", nameof(Losses));
        }
        if (LearningRates.Any(r => !(r >= 0) || !double.IsFinite(r))) throw new ArgumentException("Probe learning rates must be finite and >= 0.", nameof(LearningRates));
    }
}
