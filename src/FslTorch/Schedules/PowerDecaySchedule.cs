namespace FslTorch.Schedules;

/// <summary>
/// Power decay to zero over N steps: η(k) = η_peak·(1 − k/N)^q for k &lt; N, and 0 from step N on.
/// With q = 2β − 1 this is the optimal schedule of the FSL "easy" regime (Li et al., arXiv 2602.06797;
/// docs/fsl-spec.md §7); q = 1 is a linear decay to zero.
/// </summary>
public sealed class PowerDecaySchedule : LearningRateSchedule
{
    /// <param name="peakLearningRate">η_peak, &gt;= 0.</param>
    /// <param name="totalSteps">N, &gt;= 1.</param>
    /// <param name="exponent">q, &gt; 0.</param>
    public PowerDecaySchedule(double peakLearningRate, long totalSteps, double exponent)
    {
        PeakLearningRate = Guard.NonNegative(peakLearningRate, nameof(peakLearningRate));
        TotalSteps = Guard.Positive(totalSteps, nameof(totalSteps));
        Exponent = Guard.Positive(exponent, nameof(exponent));
    }

    /// <summary>The FSL easy-regime optimum: q = 2β − 1 for a capacity exponent β &gt; 1/2.</summary>
    public static PowerDecaySchedule FslEasyRegime(double peakLearningRate, long totalSteps, double beta)
    {
        Guard.InRange(beta, 0.5 + 1e-12, double.MaxValue, nameof(beta));
        return new PowerDecaySchedule(peakLearningRate, totalSteps, 2 * beta - 1);
    }

    /// <summary>η_peak.</summary>
    public double PeakLearningRate { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>q.</summary>
    public double Exponent { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) =>
        step >= TotalSteps ? 0 : PeakLearningRate * Math.Pow(1 - (double)step / TotalSteps, Exponent);
}
