namespace FslTorch.Schedules;

/// <summary>
/// A decay from η_0 to η_1 over S steps with a given shape: η(k) = shape(η_0, η_1, p), p = min(k, S)/S.
/// Step 0 uses η_0; step S is the first to use η_1, and every later step keeps it. With
/// <see cref="DecayShape.Linear"/> it is a linear schedule (also usable as a ramp up, η_1 &gt; η_0); with
/// <see cref="DecayShape.Cosine"/>, cosine annealing to the floor η_1.
/// </summary>
public sealed class DecaySchedule : LearningRateSchedule
{
    /// <param name="initialLearningRate">η_0, the rate at step 0, &gt;= 0.</param>
    /// <param name="finalLearningRate">η_1, the rate from step S on, &gt;= 0 (&gt; 0 for a geometric shape).</param>
    /// <param name="decaySteps">S, the length of the decay, &gt;= 1.</param>
    /// <param name="shape">The decay shape.</param>
    public DecaySchedule(double initialLearningRate, double finalLearningRate, long decaySteps, DecayShape shape)
    {
        InitialLearningRate = Guard.NonNegative(initialLearningRate, nameof(initialLearningRate));
        FinalLearningRate = Guard.NonNegative(finalLearningRate, nameof(finalLearningRate));
        DecaySteps = Guard.Positive(decaySteps, nameof(decaySteps));
        Shape = shape ?? throw new ArgumentNullException(nameof(shape));
        shape.Validate(initialLearningRate, finalLearningRate, nameof(initialLearningRate), nameof(finalLearningRate));
    }

    /// <summary>η_0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>η_1.</summary>
    public double FinalLearningRate { get; }
    /// <summary>S.</summary>
    public long DecaySteps { get; }
    /// <summary>The decay shape.</summary>
    public DecayShape Shape { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) =>
        Shape.Interpolate(InitialLearningRate, FinalLearningRate, step >= DecaySteps ? 1.0 : (double)step / DecaySteps);
}
