namespace FslTorch.Schedules;

/// <summary>
/// A learning-rate schedule: a pure function from the zero-based optimizer step to the learning rate used
/// at that step. Arguments are validated once, when the schedule is constructed; evaluation is plain
/// arithmetic. Steps past the schedule's end return its last value unless the type documents otherwise.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate used at <paramref name="step"/> (zero-based, &gt;= 0).</summary>
    public double GetLearningRate(long step)
    {
        Guard.Step(step);
        return Evaluate(step);
    }

    /// <summary>The learning rate at a step already known to be &gt;= 0.</summary>
    protected internal abstract double Evaluate(long step);

    /// <summary>The learning rate of each of the first <paramref name="steps"/> steps.</summary>
    public double[] Sample(long steps)
    {
        Guard.NonNegative(steps, nameof(steps));
        var learningRates = new double[steps];
        for (long k = 0; k < steps; k++) learningRates[k] = Evaluate(k);
        return learningRates;
    }

    /// <summary>
    /// The learning rates of the first <paramref name="steps"/> steps together with their intrinsic time
    /// (cumulative learning rate), the input of the loss-curve surrogates.
    /// </summary>
    public SampledSchedule SampleWithIntrinsicTime(long steps) => new(Sample(steps));
}
