using FslTorch.Schedules;

namespace FslTorch.Theory;

/// <summary>
/// One-pass SGD on a <see cref="KernelRegressionTask"/>: the exact expected excess risk of every iterate, and
/// sampled runs. With the error e = θ − θ* in the eigenbasis, an SGD step on a batch of B Gaussian samples is
/// e ← e − (η/B)·Σ_b x_b(x_bᵀe − ε_b), and for Gaussian x (E[x xᵀ A x xᵀ] = 2HAH + tr(HA)·H, H = diag λ) the
/// diagonal of E[e eᵀ], d_j, follows exactly and on its own (derived):
/// <code>
/// d_j ← (1 − ηλ_j)²·d_j + (η²/B)·λ_j·(λ_j·d_j + Σ_i λ_i·d_i + σ²),   d_j(0) = |θ*_j|²
/// </code>
/// The expected excess risk is R = ½·Σ_j λ_j·d_j (the population loss is R + σ²/2). O(M) per step.
/// </summary>
public static class SgdSimulation
{
    /// <summary>
    /// The expected excess risk of θ₀ … θ_N for the learning rates <paramref name="learningRates"/> (η_k used at
    /// step k, k = 0 … N − 1): N + 1 values, the last one after the final step. A diverging run (a rate too large
    /// for the spectrum) gives +∞ from the step it overflows.
    /// </summary>
    /// <param name="task">The task.</param>
    /// <param name="learningRates">η_k for k = 0 … N − 1.</param>
    /// <param name="startAtTarget">Start at θ₀ = θ* instead of 0: only the noise SGD injects is left (the FSL's
    /// noise term alone; the recursion is linear, so the risk from θ₀ = 0 is the signal part plus this).</param>
    public static double[] ExpectedRisk(KernelRegressionTask task, IReadOnlyList<double> learningRates, bool startAtTarget = false)
    {
        ArgumentNullException.ThrowIfNull(task);
        CheckRates(learningRates);
        var lambda = task.Spectrum();
        var d = startAtTarget ? new double[lambda.Length] : task.TargetPower();
        int m = lambda.Length;
        double b = task.BatchSize, noise = task.NoiseVariance;
        var risk = new double[learningRates.Count + 1];
        double weighted = 0; // Σ λ_i d_i
        for (int j = 0; j < m; j++) weighted += lambda[j] * d[j];
        risk[0] = 0.5 * weighted;
        for (int k = 0; k < learningRates.Count; k++)
        {
            double eta = learningRates[k], shared = eta * eta / b * (weighted + noise), next = 0;
            for (int j = 0; j < m; j++)
            {
                double l = lambda[j], contraction = 1 - eta * l;
                double value = contraction * contraction * d[j] + eta * eta / b * l * l * d[j] + shared * l;
                d[j] = value;
                next += l * value;
            }
            weighted = double.IsFinite(next) ? next : double.PositiveInfinity;
            risk[k + 1] = 0.5 * weighted;
            if (double.IsPositiveInfinity(weighted))
            {
                Array.Fill(risk, double.PositiveInfinity, k + 1, risk.Length - k - 1);
                break;
            }
        }
        return risk;
    }

    /// <summary>
    /// The stationary expected excess risk at a constant LR η (the limit of <see cref="ExpectedRisk"/> as N → ∞),
    /// from the recursion's fixed point: d_j* = (η²/B)·λ_j·(S* + σ²) / (1 − (1 − ηλ_j)² − η²λ_j²/B) with S* = Σ λ_j d_j*,
    /// so S* = a·σ²/(1 − a), a = (η²/B)·Σ_j λ_j²/(1 − (1 − ηλ_j)² − η²λ_j²/B). +∞ where SGD at η does not settle.
    /// </summary>
    public static double StationaryRisk(KernelRegressionTask task, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(task);
        Guard.Positive(learningRate, nameof(learningRate));
        double eta = learningRate, b = task.BatchSize, a = 0;
        foreach (double l in task.Spectrum())
        {
            // 1 − (1 − ηλ)² − η²λ²/B, written without the cancellation that zeroes it for tiny λ.
            double denominator = eta * l * (2 - eta * l * (1 + 1 / b));
            if (!(denominator > 0)) return double.PositiveInfinity;
            a += eta * eta / b * l * l / denominator;
        }
        return a < 1 ? 0.5 * a * task.NoiseVariance / (1 - a) : double.PositiveInfinity;
    }

    /// <summary>
    /// One sampled run with its own features and label noise (seeded): the excess risk of θ₀ … θ_N, ½·Σ λ_j·e_j², and
    /// the loss of the batch each step trained on, ½·mean_b (x_bᵀθ_k − y_b)² (what a training log records).
    /// O(B·M) per step.
    /// </summary>
    public static SampledRun Sample(KernelRegressionTask task, IReadOnlyList<double> learningRates, int seed)
    {
        ArgumentNullException.ThrowIfNull(task);
        CheckRates(learningRates);
        var run = new SgdRun(task, seed);
        var risk = new double[learningRates.Count + 1];
        var losses = new double[learningRates.Count];
        risk[0] = run.Risk;
        for (int k = 0; k < learningRates.Count; k++)
        {
            losses[k] = run.Step(learningRates[k]);
            risk[k + 1] = run.Risk;
        }
        return new SampledRun(risk, losses);
    }

    private static void CheckRates(IReadOnlyList<double> learningRates)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        for (int k = 0; k < learningRates.Count; k++) Guard.NonNegative(learningRates[k], $"learningRates[{k}]");
    }
}
