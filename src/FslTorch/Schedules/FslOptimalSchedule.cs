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

    /// <summary>
    /// The FSL's continuum loss of the family member with scale c and cap η_max, in the easy regime's units of
    /// <see cref="SolveUncapped"/> (docs/fsl-spec.md §8, derived): the signal (1 + T)^(−s) plus σ² times the noise the
    /// schedule leaves, ∫ K(T − T(k))·η(k)² dk with K(t) = (1 + t)^(−(2−1/β)). The decay takes the last
    /// n₀ = 2β/c·[(η_max/c)^(1/(2β−1)) − 1] steps (all N when the cap is never reached), spends T_d = (1 + c·n₀/(2β))^(2β) − 1
    /// and leaves noise c²·n₀; the stable phase before it at η_max leaves η_max·[(1 + T_d)^(1−α) − (1 + T)^(1−α)]/(α − 1),
    /// α = 2 − 1/β, with T = T_d + η_max·(N − n₀). With η_max = +∞ this is <see cref="SolveUncapped"/>'s loss.
    /// </summary>
    /// <returns>The loss and the decay fraction n₀/N.</returns>
    public static (double Loss, double DecayFraction) ContinuumLoss(double scale, double s, double beta, double noise, long totalSteps, double maxLearningRate = double.PositiveInfinity)
    {
        Guard.Positive(scale, nameof(scale));
        Guard.Positive(s, nameof(s));
        Guard.InRange(beta, 0.5 + 1e-12, double.MaxValue, nameof(beta));
        Guard.Positive(noise, nameof(noise));
        Guard.Positive(totalSteps, nameof(totalSteps));
        Guard.PositiveOrInfinity(maxLearningRate, nameof(maxLearningRate));
        double n = totalSteps, alpha = 2 - 1 / beta;
        double decaySteps = scale >= maxLearningRate ? 0 : Math.Min(n, 2 * beta / scale * (Math.Pow(maxLearningRate / scale, 1 / (2 * beta - 1)) - 1));
        double decayTime = Math.Pow(1 + scale * decaySteps / (2 * beta), 2 * beta) - 1;
        double stableSteps = n - decaySteps;
        double total = decayTime + (stableSteps > 0 ? maxLearningRate * stableSteps : 0);
        double stableNoise = stableSteps > 0 ? maxLearningRate * (Math.Pow(1 + decayTime, 1 - alpha) - Math.Pow(1 + total, 1 - alpha)) / (alpha - 1) : 0;
        return (Math.Pow(1 + total, -s) + noise * (scale * scale * decaySteps + stableNoise), decaySteps / n);
    }

    /// <summary>
    /// The family member with the lowest <see cref="ContinuumLoss"/> under the cap η_max (docs/fsl-spec.md §8: with cap 1,
    /// s 0.3, β 2, N 10⁵ the spec's checked values are L* 0.069032 at a decay fraction of 0.9249), by golden-section
    /// search over ln c ∈ (10⁻¹²·η_max, η_max] (MathNet). With η_max = +∞ use <see cref="SolveUncapped"/>.
    /// </summary>
    /// <returns>The optimal scale c*, the loss L* it reaches and its decay fraction.</returns>
    public static (double Scale, double Loss, double DecayFraction) SolveCapped(double s, double beta, double noise, long totalSteps, double maxLearningRate)
    {
        Guard.Positive(maxLearningRate, nameof(maxLearningRate));
        double LossAt(double lnScale) => ContinuumLoss(Math.Exp(lnScale), s, beta, noise, totalSteps, maxLearningRate).Loss;
        LossAt(Math.Log(maxLearningRate)); // bad arguments throw here, before the search
        double best = MathNet.Numerics.FindMinimum.OfScalarFunctionConstrained(LossAt, Math.Log(maxLearningRate) - 12 * Math.Log(10), Math.Log(maxLearningRate), 1e-9);
        var (loss, fraction) = ContinuumLoss(Math.Exp(best), s, beta, noise, totalSteps, maxLearningRate);
        return (Math.Exp(best), loss, fraction);
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
