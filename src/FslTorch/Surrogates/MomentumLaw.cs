using FslTorch.Schedules;

namespace FslTorch.Surrogates;

/// <summary>
/// The momentum law of Tissue, Wang, Wang ("Scaling Law with Learning Rate Annealing", arXiv 2408.11029;
/// docs/fsl-spec.md §4):
/// <code>
/// L(s) = L0 + A·S1(s)^(−α) − C·S2(s),  S1 = Σ_{i≤s} η_i,  m_i = λ·m_{i−1} + (η_{i−1} − η_i),  S2 = Σ_{i≤s} m_i
/// </code>
/// with m_0 = 0 and λ fixed (0.999 by default). Both sums are single passes, so evaluation is O(N).
/// </summary>
public sealed class MomentumLaw : LossCurveLaw
{
    private static readonly LawParameter[] Names =
    [
        new("L0", "irreducible loss"),
        new("A", "amplitude of the power law in the LR sum"),
        new("alpha", "exponent of the power law in the LR sum"),
        new("C", "gain per unit of annealing area S2"),
    ];

    /// <param name="lambda">λ, the decay of the annealing momentum, in (0, 1).</param>
    public MomentumLaw(double lambda = 0.999) =>
        Lambda = Schedules.Guard.InRange(lambda, 1e-9, 1 - 1e-12, nameof(lambda));

    /// <summary>λ.</summary>
    public double Lambda { get; }

    /// <inheritdoc />
    protected override void ConvertLearningRateUnitCore(double[] p, double ratio)
    {
        // A·S1^(−α) keeps its value as S1 scales; S2 is a sum of LR differences, so C·S2 needs C/ratio.
        p[1] *= Math.Pow(ratio, p[2]);
        p[3] /= ratio;
    }

    /// <inheritdoc />
    public override string Name => "momentum";

    /// <inheritdoc />
    public override string Formula => "L(s) = L0 + A·S1^(−α) − C·S2, S2 = Σ m_i, m_i = λ·m_{i−1} + (η_{i−1} − η_i)";

    /// <inheritdoc />
    public override IReadOnlyList<LawParameter> Parameters => Names;

    /// <inheritdoc />
    public override IReadOnlyList<string> DecayResponseParameters => ["C"];

    /// <inheritdoc />
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha)
    {
        // S2 grows like (drop)/(1 − λ) per step after a decay, so C is small in peak-normalised units.
        foreach (double c in new[] { 1e-6, 1e-5, 1e-4 }) yield return [l0, a, alpha, c * (1 - Lambda) / 1e-3];
    }

    /// <inheritdoc />
    protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian)
    {
        double l0 = p[0], a = p[1], alpha = p[2], c = p[3];
        var eta = schedule.LearningRates;
        var s1 = schedule.IntrinsicTime;
        double momentum = 0, s2 = 0;
        int at = 0;
        for (int e = 0; e < steps.Length; e++)
        {
            for (int i = at + 1; i <= steps[e]; i++)
            {
                momentum = Lambda * momentum + (eta[i - 1] - eta[i]);
                s2 += momentum;
            }
            at = steps[e];
            double signal = Math.Pow(s1[at], -alpha);
            losses[e] = l0 + a * signal - c * s2;
            if (jacobian.IsEmpty) continue;
            var row = jacobian.Slice(e * 4, 4);
            row[0] = 1;
            row[1] = signal;
            row[2] = -a * Math.Log(s1[at]) * signal;
            row[3] = -s2;
        }
    }

    /// <inheritdoc />
    protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses)
    {
        // S2(s) = Σ_{i≤s} Σ_{j≤i} λ^(i−j)·d_j = Σ_{j≤s} d_j·(1 − λ^(s−j+1))/(1 − λ), summed directly.
        double l0 = p[0], a = p[1], alpha = p[2], c = p[3];
        var eta = schedule.LearningRates;
        for (int e = 0; e < steps.Length; e++)
        {
            int s = steps[e];
            double s2 = 0;
            for (int j = 1; j <= s; j++)
            {
                double d = eta[j - 1] - eta[j];
                if (d != 0) s2 += d * (1 - Math.Pow(Lambda, s - j + 1)) / (1 - Lambda);
            }
            losses[e] = l0 + a * Math.Pow(schedule.IntrinsicTime[s], -alpha) - c * s2;
        }
    }
}
