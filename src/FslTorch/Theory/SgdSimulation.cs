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
        var random = new Random(seed);
        var lambda = task.Spectrum();
        var scale = lambda.Select(Math.Sqrt).ToArray();
        var target = task.TargetPower();
        // θ₀ = 0: e = −θ*, with signs drawn at random (the risk depends on |θ*_j| only).
        var e = target.Select(p => (random.Next(2) == 0 ? -1 : 1) * Math.Sqrt(p)).ToArray();
        int m = e.Length, batch = task.BatchSize;
        double sigma = Math.Sqrt(task.NoiseVariance);
        var risk = new double[learningRates.Count + 1];
        var losses = new double[learningRates.Count];
        var x = new double[m];
        var step = new double[m];
        risk[0] = Risk(e, lambda);
        for (int k = 0; k < learningRates.Count; k++)
        {
            Array.Clear(step);
            double loss = 0;
            for (int n = 0; n < batch; n++)
            {
                double residual = -sigma * Gaussian(random); // xᵀe − ε
                for (int j = 0; j < m; j++)
                {
                    x[j] = scale[j] * Gaussian(random);
                    residual += x[j] * e[j];
                }
                loss += 0.5 * residual * residual;
                for (int j = 0; j < m; j++) step[j] += x[j] * residual;
            }
            double eta = learningRates[k] / batch;
            for (int j = 0; j < m; j++) e[j] -= eta * step[j];
            losses[k] = loss / batch;
            risk[k + 1] = Risk(e, lambda);
        }
        return new SampledRun(risk, losses);
    }

    private static double Risk(double[] e, double[] lambda)
    {
        double sum = 0;
        for (int j = 0; j < e.Length; j++) sum += lambda[j] * e[j] * e[j];
        return 0.5 * sum;
    }

    private static double Gaussian(Random random) => MathNet.Numerics.Distributions.Normal.Sample(random, 0, 1);

    private static void CheckRates(IReadOnlyList<double> learningRates)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        for (int k = 0; k < learningRates.Count; k++) Guard.NonNegative(learningRates[k], $"learningRates[{k}]");
    }
}
