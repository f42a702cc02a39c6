using FslTorch.Schedules;

namespace FslTorch.Theory;

/// <summary>
/// The setting the Functional Scaling Law is derived for ([P1] in docs/fsl-spec.md §2): linear regression on
/// <see cref="Features"/> Gaussian features in their eigenbasis, with a power-law spectrum λ_j = j^(−β) and a target
/// whose coefficients satisfy the source condition |θ*_j|² = j^(−1)·λ_j^(s−1) (so that the signal in direction j,
/// λ_j·|θ*_j|², is j^(−1−sβ)), labels y = xᵀθ* + ε with Var ε = σ², and one-pass SGD with batches of
/// <see cref="BatchSize"/> fresh samples from θ₀ = 0. Easy regime when s ≥ 1 − 1/β, hard otherwise.
/// </summary>
public sealed record KernelRegressionTask
{
    /// <summary>Creates a task; throws an <see cref="ArgumentException"/> naming the parameter when one is outside its range.</summary>
    /// <param name="features">M, the number of features (eigendirections), in [1, 10⁷].</param>
    /// <param name="capacity">β &gt; 1, the spectrum's exponent.</param>
    /// <param name="source">s &gt; 0, the source exponent.</param>
    /// <param name="noiseVariance">σ² ≥ 0, the label noise.</param>
    /// <param name="batchSize">B ≥ 1.</param>
    public KernelRegressionTask(int features, double capacity, double source, double noiseVariance, int batchSize = 1)
    {
        Guard.InRange(features, 1, 10_000_000, nameof(features));
        if (!(capacity > 1) || !double.IsFinite(capacity)) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity exponent β must be a finite number > 1.");
        Guard.Positive(source, nameof(source));
        Guard.NonNegative(noiseVariance, nameof(noiseVariance));
        Guard.InRange(batchSize, 1, 1_000_000, nameof(batchSize));
        (Features, Capacity, Source, NoiseVariance, BatchSize) = (features, capacity, source, noiseVariance, batchSize);
    }

    /// <summary>M.</summary>
    public int Features { get; }
    /// <summary>β.</summary>
    public double Capacity { get; }
    /// <summary>s.</summary>
    public double Source { get; }
    /// <summary>σ².</summary>
    public double NoiseVariance { get; }
    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>Whether s ≥ 1 − 1/β ([P1]'s easy regime; otherwise the hard one, where WSD-like schedules win).</summary>
    public bool IsEasy => Source >= 1 - 1 / Capacity;

    /// <summary>λ_j = j^(−β) for j = 1…M (index j − 1).</summary>
    public double[] Spectrum() => Enumerable.Range(1, Features).Select(j => Math.Pow(j, -Capacity)).ToArray();

    /// <summary>|θ*_j|² = j^(−1)·λ_j^(s−1) for j = 1…M (index j − 1).</summary>
    public double[] TargetPower() => Enumerable.Range(1, Features).Select(j => Math.Pow(j, -1 - Capacity * (Source - 1))).ToArray();
}
