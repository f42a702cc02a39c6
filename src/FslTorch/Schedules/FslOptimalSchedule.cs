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

    /// <summary>
    /// The uncapped optimum in the FSL's easy regime with σ² the noise level (docs/fsl-spec.md §8, derived):
    /// with y = c·N/(2β), 1 + T = (1 + y)^(2β), the loss is (1 + y)^(−2βs) + 4β²σ²y²/N and its minimum lies at
    /// y·(1 + y)^(2βs+1) = s·N/(4βσ²), solved here by bisection.
    /// </summary>
    /// <returns>The optimal scale c* and the loss L* it reaches.</returns>
    public static (double Scale, double Loss) SolveUncapped(double s, double beta, double noise, long totalSteps)
    {
        Guard.Positive(s, nameof(s));
        Guard.InRange(beta, 0.5 + 1e-12, double.MaxValue, nameof(beta));
        Guard.Positive(noise, nameof(noise));
        Guard.Positive(totalSteps, nameof(totalSteps));
        double target = s * totalSteps / (4 * beta * noise), exponent = 2 * beta * s + 1;
        // y·(1 + y)^(2βs+1) increases from 0 without bound: bisect on ln y.
        double low = -50, high = Math.Log(target) + 1;
        for (int i = 0; i < 200; i++)
        {
            double mid = 0.5 * (low + high), y = Math.Exp(mid);
            if (y * Math.Pow(1 + y, exponent) < target) low = mid; else high = mid;
        }
        double best = Math.Exp(0.5 * (low + high));
        double loss = Math.Pow(1 + best, -2 * beta * s) + 4 * beta * beta * noise * best * best / totalSteps;
        return (2 * beta * best / totalSteps, loss);
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
