namespace FslTorch.Theory;

/// <summary>A sampled SGD run of <see cref="SgdSimulation.Sample"/>.</summary>
/// <param name="Risk">The excess risk of θ₀ … θ_N (N + 1 values).</param>
/// <param name="BatchLoss">The loss of the batch of each step k = 0 … N − 1, at θ_k (a noisy training log).</param>
public sealed record SampledRun(IReadOnlyList<double> Risk, IReadOnlyList<double> BatchLoss);
