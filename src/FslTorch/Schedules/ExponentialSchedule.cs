namespace FslTorch.Schedules;

/// <summary>
/// Exponential decay: η(k) = max(η_floor, η_0·r^(k/S)), or with <c>staircase</c> r^⌊k/S⌋ (a drop by the
/// factor r every S steps, like PyTorch's StepLR).
/// </summary>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    /// <param name="initialLearningRate">η_0, &gt;= 0.</param>
    /// <param name="decayRate">r, the factor applied every S steps, in (0, 1].</param>
    /// <param name="transitionSteps">S, &gt;= 1.</param>
    /// <param name="staircase">Whether the exponent is rounded down to whole periods.</param>
    /// <param name="floorLearningRate">η_floor, a lower bound, in [0, η_0].</param>
    public ExponentialSchedule(double initialLearningRate, double decayRate, long transitionSteps = 1,
        bool staircase = false, double floorLearningRate = 0)
    {
        InitialLearningRate = Guard.NonNegative(initialLearningRate, nameof(initialLearningRate));
        DecayRate = Guard.InRange(decayRate, double.Epsilon, 1, nameof(decayRate));
        TransitionSteps = Guard.Positive(transitionSteps, nameof(transitionSteps));
        Staircase = staircase;
        FloorLearningRate = Guard.InRange(floorLearningRate, 0, initialLearningRate, nameof(floorLearningRate));
    }

    /// <summary>η_0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>r.</summary>
    public double DecayRate { get; }
    /// <summary>S.</summary>
    public long TransitionSteps { get; }
    /// <summary>Whether the decay happens in whole periods.</summary>
    public bool Staircase { get; }
    /// <summary>η_floor.</summary>
    public double FloorLearningRate { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step)
    {
        double periods = Staircase ? step / TransitionSteps : (double)step / TransitionSteps;
        return Math.Max(FloorLearningRate, InitialLearningRate * Math.Pow(DecayRate, periods));
    }
}
