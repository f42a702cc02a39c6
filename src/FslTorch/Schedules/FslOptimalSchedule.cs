namespace FslTorch.Schedules;

/// <summary>
/// The continuum family of FSL-optimal schedules (docs/fsl-spec.md §7, derived from Li et al.,
/// arXiv 2602.06797), in terms of the steps remaining n = N − k:
/// <code>η(k) = min(η_max, c·(1 + c·n/(2β))^(2β−1))</code>
/// It holds η_max (a stable phase) while the uncapped rate exceeds it, then decays to c at n = 0. With
/// η_max = +∞ it is the uncapped optimum. Steps from N on use c.
/// </summary>
public sealed class FslOptimalSchedule : LearningRateSchedule
{
    /// <param name="scale">c, the terminal rate and scale, &gt; 0.</param>
    /// <param name="beta">β, the capacity exponent, &gt; 1/2 (the theory has β &gt; 1).</param>
    /// <param name="totalSteps">N, &gt;= 1.</param>
    /// <param name="maxLearningRate">η_max, &gt; 0, or +∞ for no cap.</param>
    public FslOptimalSchedule(double scale, double beta, long totalSteps, double maxLearningRate = double.PositiveInfinity)
    {
        Scale = Guard.Positive(scale, nameof(scale));
        Beta = Guard.InRange(beta, 0.5 + 1e-12, double.MaxValue, nameof(beta));
        TotalSteps = Guard.Positive(totalSteps, nameof(totalSteps));
        MaxLearningRate = Guard.PositiveOrInfinity(maxLearningRate, nameof(maxLearningRate));
    }

    /// <summary>c.</summary>
    public double Scale { get; }
    /// <summary>β.</summary>
    public double Beta { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>η_max.</summary>
    public double MaxLearningRate { get; }

    /// <inheritdoc />
    protected internal override double Evaluate(long step)
    {
        double remaining = step >= TotalSteps ? 0 : TotalSteps - step;
        double uncapped = Scale * Math.Pow(1 + Scale * remaining / (2 * Beta), 2 * Beta - 1);
        return Math.Min(MaxLearningRate, uncapped);
    }
}
