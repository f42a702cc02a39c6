namespace FslTorch.Schedules;

/// <summary>
/// A warmup of W steps in front of another schedule: for k &lt; W, η(k) rises from η_init to
/// η_peak = main(0) along <see cref="WarmupShape"/>; for k ≥ W, η(k) = main(k − W). The main schedule's
/// lengths therefore do not include the warmup.
/// </summary>
public sealed class WarmupSchedule : LearningRateSchedule
{
    private readonly JoinedSchedule _joined;

    /// <param name="main">The schedule that follows the warmup; its step 0 is step W of this one.</param>
    /// <param name="warmupSteps">W, &gt;= 1.</param>
    /// <param name="initialLearningRate">η_init, the rate at step 0, &gt;= 0.</param>
    /// <param name="shape">Linear (default) or cosine.</param>
    public WarmupSchedule(LearningRateSchedule main, long warmupSteps, double initialLearningRate = 0,
        WarmupShape shape = WarmupShape.Linear)
    {
        Main = main ?? throw new ArgumentNullException(nameof(main));
        WarmupSteps = Guard.Positive(warmupSteps, nameof(warmupSteps));
        InitialLearningRate = Guard.NonNegative(initialLearningRate, nameof(initialLearningRate));
        Shape = shape switch
        {
            WarmupShape.Linear or WarmupShape.Cosine => shape,
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "shape must be Linear or Cosine."),
        };
        // A rise is a "decay" from η_init to the peak; the cosine warmup is the cosine decay shape run upwards.
        var rise = new DecaySchedule(initialLearningRate, main.Evaluate(0), warmupSteps,
            shape == WarmupShape.Linear ? DecayShape.Linear : DecayShape.Cosine);
        _joined = new JoinedSchedule([rise, main], [warmupSteps]);
    }

    /// <summary>The schedule after the warmup.</summary>
    public LearningRateSchedule Main { get; }
    /// <summary>W.</summary>
    public long WarmupSteps { get; }
    /// <summary>η_init.</summary>
    public double InitialLearningRate { get; }
    /// <summary>The warmup's shape.</summary>
    public WarmupShape Shape { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) => _joined.Evaluate(step);
}
