namespace FslTorch.Schedules;

/// <summary>
/// Warmup–stable–decay (WSD): a warmup of W steps from η_init to η_peak, η_peak until the decay start D,
/// then a decay of N − D steps to η_final with a chosen <see cref="DecayShape"/>:
/// <code>
/// η(k) = warmup(k)                                k &lt; W
///      = η_peak                                   W ≤ k &lt; D
///      = shape(η_peak, η_final, (k − D)/(N − D))  D ≤ k
/// </code>
/// Step D still uses η_peak; the decay reaches η_final at step N, one past the last step N − 1, and steps
/// past the end keep η_final. The cooldown fraction is (N − D)/N.
/// </summary>
public sealed class WsdSchedule : LearningRateSchedule
{
    private readonly LearningRateSchedule _schedule;

    /// <param name="peakLearningRate">η_peak, &gt; 0.</param>
    /// <param name="warmupSteps">W, in [0, D].</param>
    /// <param name="decayStartStep">D, the first step of the decay, in [W, N − 1].</param>
    /// <param name="totalSteps">N, the training budget in steps, &gt;= 1.</param>
    /// <param name="decayShape">The decay shape; linear when null.</param>
    /// <param name="decayTarget">η_final, absolute or a fraction of the peak; zero when null.</param>
    /// <param name="warmupInitialLearningRate">η_init, the rate at step 0 when W &gt; 0, in [0, η_peak].</param>
    /// <param name="warmupShape">The warmup's shape.</param>
    public WsdSchedule(double peakLearningRate, long warmupSteps, long decayStartStep, long totalSteps,
        DecayShape? decayShape = null, DecayTarget? decayTarget = null, double warmupInitialLearningRate = 0,
        WarmupShape warmupShape = WarmupShape.Linear)
    {
        PeakLearningRate = Guard.Positive(peakLearningRate, nameof(peakLearningRate));
        TotalSteps = Guard.Positive(totalSteps, nameof(totalSteps));
        DecayStartStep = Guard.InRange(decayStartStep, 0, totalSteps - 1, nameof(decayStartStep));
        WarmupSteps = Guard.InRange(warmupSteps, 0, decayStartStep, nameof(warmupSteps));
        DecayShape = decayShape ?? DecayShape.Linear;
        DecayTarget = decayTarget ?? DecayTarget.Zero;
        FinalLearningRate = DecayTarget.Resolve(peakLearningRate, nameof(decayTarget));
        WarmupInitialLearningRate = Guard.InRange(warmupInitialLearningRate, 0, peakLearningRate, nameof(warmupInitialLearningRate));
        WarmupShape = warmupShape;

        var decay = new DecaySchedule(PeakLearningRate, FinalLearningRate, totalSteps - decayStartStep, DecayShape);
        LearningRateSchedule afterWarmup = decayStartStep > warmupSteps
            ? new JoinedSchedule([new ConstantSchedule(PeakLearningRate), decay], [decayStartStep - warmupSteps])
            : decay;
        _schedule = warmupSteps > 0
            ? new WarmupSchedule(afterWarmup, warmupSteps, warmupInitialLearningRate, warmupShape)
            : afterWarmup;
    }

    /// <summary>η_peak.</summary>
    public double PeakLearningRate { get; }
    /// <summary>W.</summary>
    public long WarmupSteps { get; }
    /// <summary>D.</summary>
    public long DecayStartStep { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>The decay shape.</summary>
    public DecayShape DecayShape { get; }
    /// <summary>The decay's target as given.</summary>
    public DecayTarget DecayTarget { get; }
    /// <summary>η_final.</summary>
    public double FinalLearningRate { get; }
    /// <summary>η_init.</summary>
    public double WarmupInitialLearningRate { get; }
    /// <summary>The warmup's shape.</summary>
    public WarmupShape WarmupShape { get; }
    /// <summary>(N − D)/N.</summary>
    public double CooldownFraction => (double)(TotalSteps - DecayStartStep) / TotalSteps;

    /// <summary>The same schedule with another decay start.</summary>
    public WsdSchedule WithDecayStart(long decayStartStep) =>
        new(PeakLearningRate, WarmupSteps, decayStartStep, TotalSteps, DecayShape, DecayTarget, WarmupInitialLearningRate, WarmupShape);

    /// <summary>Whether the decay has begun once <paramref name="nextStep"/> is the first step not yet taken.</summary>
    public bool HasDecayBegun(long nextStep) => nextStep > DecayStartStep;

    /// <summary>
    /// The same schedule with its decay moved to <paramref name="decayStartStep"/> during a run whose first step not
    /// yet taken is <paramref name="nextStep"/>: the steps already taken keep their rates.
    /// </summary>
    /// <exception cref="InvalidOperationException">The decay has begun, or the new start is in the past.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The new start is outside [W, N − 1].</exception>
    public WsdSchedule WithDecayStartFrom(long decayStartStep, long nextStep)
    {
        Guard.NonNegative(nextStep, nameof(nextStep));
        if (decayStartStep == DecayStartStep) return this;
        if (HasDecayBegun(nextStep))
        {
            throw new InvalidOperationException(
                $"The decay began at step {DecayStartStep} and step {nextStep - 1} was already taken; its start is frozen.");
        }
        if (decayStartStep < nextStep)
        {
            throw new InvalidOperationException(
                $"Cannot move the decay start to step {decayStartStep}: steps before {nextStep} were already taken.");
        }
        return WithDecayStart(decayStartStep);
    }

    /// <summary>The decay start for a cooldown fraction f: D = N − ⌊f·N⌋ (as in Hägele et al., 2024).</summary>
    public static long DecayStartForFraction(long totalSteps, double cooldownFraction)
    {
        Guard.Positive(totalSteps, nameof(totalSteps));
        Guard.InRange(cooldownFraction, 0, 1, nameof(cooldownFraction));
        return totalSteps - (long)Math.Floor(cooldownFraction * totalSteps);
    }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) => _schedule.Evaluate(step);
}
