namespace FslTorch.Schedules;

/// <summary>The rate a decay ends at: an absolute learning rate or a fraction of the peak.</summary>
public readonly record struct DecayTarget
{
    private DecayTarget(double value, bool isFraction)
    {
        Value = value;
        IsFractionOfPeak = isFraction;
    }

    /// <summary>The absolute rate, or the fraction of the peak.</summary>
    public double Value { get; }
    /// <summary>Whether <see cref="Value"/> is a fraction of the peak.</summary>
    public bool IsFractionOfPeak { get; }

    /// <summary>Decay to zero.</summary>
    public static DecayTarget Zero => new(0, false);

    /// <summary>Decay to an absolute learning rate &gt;= 0 (at most the peak).</summary>
    public static DecayTarget Absolute(double learningRate) =>
        new(Guard.NonNegative(learningRate, nameof(learningRate)), false);

    /// <summary>Decay to a fraction of the peak, in [0, 1] (0.1 = "to 10%").</summary>
    public static DecayTarget FractionOfPeak(double fraction) =>
        new(Guard.InRange(fraction, 0, 1, nameof(fraction)), true);

    /// <summary>The final learning rate for a given peak; throws if an absolute target exceeds the peak.</summary>
    public double Resolve(double peakLearningRate, string parameterName) =>
        IsFractionOfPeak ? Value * peakLearningRate : Guard.InRange(Value, 0, peakLearningRate, parameterName);

    /// <inheritdoc />
    public override string ToString() =>
        IsFractionOfPeak ? FormattableString.Invariant($"{Value:P1} of peak") : FormattableString.Invariant($"{Value:G6}");
}
