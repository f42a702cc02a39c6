namespace FslTorch.Schedules;

/// <summary>η(k) = η for every step.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <param name="learningRate">The learning rate, &gt;= 0.</param>
    public ConstantSchedule(double learningRate) =>
        LearningRate = Guard.NonNegative(learningRate, nameof(learningRate));

    /// <summary>η.</summary>
    public double LearningRate { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) => LearningRate;
}
