using FslTorch.Schedules;

namespace FslTorch.Surrogates;

/// <summary>
/// The practical Functional Scaling Law surrogate for LLM loss curves (Li, Chen, Huang, Wang, Wu,
/// NeurIPS 2025, App. B.2, Eq. 30; docs/fsl-spec.md §3):
/// <code>
/// L(k) = L0 + c1·T(k)^(−s) − Σ_{1≤i≤k} B·(η_{i−1} − η_i)·(1 + r·T(i)^(−s))·[1 − (1 + c4·(T(k) − T(i)))^(−γ)]
/// </code>
/// with T the inclusive cumulative learning rate. The paper's (c2, c3) enter as B = c2·c3 and r = 1/c3,
/// which removes the ridge along which c3 → ∞ with c2·c3 fixed (spec §6). Each LR change is a source whose
/// benefit grows along a power law of the intrinsic time since it; warmup increases enter with a negative
/// sign. With <c>tieGammaToBeta</c> the exponent is γ = 1 − 1/β with β &gt; 1 fitted instead (the theory's
/// value). Fast evaluation: the kernel as a sum of exponentials (§5), O((sources + points)·Q).
/// </summary>
public sealed class FslLaw : LossCurveLaw
{
    private static readonly LawParameter[] FreeGamma =
    [
        new("L0", "irreducible loss"),
        new("c1", "signal amplitude: c1·T^(−s)"),
        new("s", "source exponent of the signal term"),
        new("B", "strength of an LR drop, c2·c3"),
        new("r", "1/c3: how much more early drops count, B·(1 + r·T(i)^(−s))"),
        new("c4", "rate at which a drop's benefit is realised in intrinsic time (1/τ)"),
        new("gamma", "exponent of the drop response, 1 − (1 + c4·ΔT)^(−γ)"),
    ];

    private static readonly LawParameter[] TiedGamma =
    [
        .. FreeGamma[..6],
        new("beta", "capacity exponent β > 1; the drop response exponent is γ = 1 − 1/β"),
    ];

    /// <param name="tieGammaToBeta">Fit β (γ = 1 − 1/β) instead of a free γ.</param>
    /// <param name="countIncreases">
    /// Whether LR increases (warmup) are sources, with a negative sign, as in the paper; when false only
    /// decreases count (docs/fsl-spec.md §6: a trade-off between short- and long-horizon accuracy).
    /// </param>
    /// <param name="tolerance">Absolute tolerance of the sum-of-exponentials kernel.</param>
    public FslLaw(bool tieGammaToBeta = false, bool countIncreases = true, double tolerance = PowerKernelQuadrature.DefaultTolerance)
    {
        TieGammaToBeta = tieGammaToBeta;
        CountIncreases = countIncreases;
        Tolerance = Schedules.Guard.InRange(tolerance, 1e-15, 1e-3, nameof(tolerance));
    }

    /// <summary>Whether γ = 1 − 1/β.</summary>
    public bool TieGammaToBeta { get; }
    /// <summary>Whether LR increases are sources.</summary>
    public bool CountIncreases { get; }
    /// <summary>Absolute tolerance of the kernel quadrature.</summary>
    public double Tolerance { get; }

    /// <inheritdoc />
    protected override void ConvertLearningRateUnitCore(double[] p, double ratio)
    {
        // c1·T^(−s) and r·T^(−s) keep their value as T scales; B multiplies LR differences; c4 multiplies intrinsic time.
        double grow = Math.Pow(ratio, p[2]);
        p[1] *= grow;
        p[3] /= ratio;
        p[4] *= grow;
        p[5] /= ratio;
    }

    /// <inheritdoc />
    public override LossCurveLaw WithKernelTolerance(double tolerance) => new FslLaw(TieGammaToBeta, CountIncreases, tolerance);

    /// <inheritdoc />
    public override string Name => (TieGammaToBeta, CountIncreases) switch
    {
        (false, true) => "fsl",
        (true, true) => "fsl-tied",
        (false, false) => "fsl-decreases",
        (true, false) => "fsl-tied-decreases",
    };

    /// <inheritdoc />
    public override string Formula =>
        "L(k) = L0 + c1·T(k)^(−s) − Σ_{i≤k} B·(η_{i−1} − η_i)·(1 + r·T(i)^(−s))·[1 − (1 + c4·(T(k) − T(i)))^(−γ)]";

    /// <inheritdoc />
    public override IReadOnlyList<LawParameter> Parameters => TieGammaToBeta ? TiedGamma : FreeGamma;

    /// <summary>θ from the paper's parameters (L0, c1, c2, c3, c4, s, γ).</summary>
    public static double[] FromPaperParameters(double l0, double c1, double c2, double c3, double c4, double s, double gamma) =>
        [l0, c1, s, c2 * c3, 1 / c3, c4, gamma];

    private double Gamma(ReadOnlySpan<double> p) => TieGammaToBeta ? 1 - 1 / p[6] : p[6];

    /// <inheritdoc />
    public override IReadOnlyList<string> DecayResponseParameters => ["B", "r", "c4", TieGammaToBeta ? "beta" : "gamma"];

    /// <inheritdoc />
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha)
    {
        foreach (double c4 in new[] { 1e-3, 1e-2, 1e-1 })
        foreach (double b in new[] { 0.1, 0.3 })
        foreach (double gamma in new[] { 0.6, 1.0 })
        {
            yield return [l0, a, alpha, b, 1.0, c4, TieGammaToBeta ? 1 / (1 - Math.Min(gamma, 0.9)) : gamma];
        }
    }

    /// <inheritdoc />
    protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian)
    {
        double l0 = p[0], c1 = p[1], s = p[2], b = p[3], r = p[4], c4 = p[5], gamma = Gamma(p);
        if (gamma <= 0) throw new ArgumentOutOfRangeException(nameof(p), "beta must be > 1 when γ is tied to β.");
        bool gradient = !jacobian.IsEmpty;
        var eta = schedule.LearningRates;
        var time = schedule.IntrinsicTime;
        var kernel = PowerKernelQuadrature.Create(gamma, Tolerance, maxArgument: c4 * time[steps.IsEmpty ? 0 : steps[^1]]);
        ReadOnlySpan<double> weights = kernel.Weights, weightDerivatives = kernel.WeightDerivatives;

        // Channels: sources d_i (0) and d_i·T(i)^(−s) (1), with their c4-derivatives; ∂channel 1/∂s (2).
        const int A = 0, Bc = 1, Bs = 2;
        var bank = new ModeBank(kernel.Nodes, gradient ? 3 : 2, gradient ? 2 : 0);
        double sa = 0, sb = 0, sbs = 0;
        int at = 0; // the step the modes describe

        for (int e = 0; e < steps.Length; e++)
        {
            int target = steps[e];
            for (int k = at + 1; k <= target; k++)
            {
                if (eta[k] == eta[k - 1])
                {
                    // A constant stretch: no sources until the next change or the target.
                    int end = ScheduleScan.EndOfConstantStretch(eta, k, target);
                    bank.Advance(time[end] - time[k - 1], c4);
                    k = end;
                    continue;
                }
                bank.Advance(time[k] - time[k - 1], c4);
                double d = eta[k - 1] - eta[k];
                if (d < 0 && !CountIncreases) continue;
                double power = Math.Pow(time[k], -s);
                bank.Deposit(A, d);
                bank.Deposit(Bc, d * power);
                sa += d;
                sb += d * power;
                if (gradient)
                {
                    double ds = -d * Math.Log(time[k]) * power;
                    bank.Deposit(Bs, ds);
                    sbs += ds;
                }
            }
            at = target;

            double signal = Math.Pow(time[target], -s);
            double dropA = sa - bank.Read(A, weights), dropB = sb - bank.Read(Bc, weights);
            losses[e] = l0 + c1 * signal - b * (dropA + r * dropB);
            if (!gradient) continue;
            var row = jacobian.Slice(e * 7, 7);
            row[0] = 1;
            row[1] = signal;
            row[2] = -c1 * Math.Log(time[target]) * signal - b * r * (sbs - bank.Read(Bs, weights));
            row[3] = -(dropA + r * dropB);
            row[4] = -b * dropB;
            row[5] = b * (bank.ReadRateDerivative(A, weights) + r * bank.ReadRateDerivative(Bc, weights));
            double dGamma = b * (bank.Read(A, weightDerivatives) + r * bank.Read(Bc, weightDerivatives));
            row[6] = TieGammaToBeta ? dGamma / (p[6] * p[6]) : dGamma;
        }
    }

    /// <inheritdoc />
    protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses)
    {
        double l0 = p[0], c1 = p[1], s = p[2], b = p[3], r = p[4], c4 = p[5], gamma = Gamma(p);
        var eta = schedule.LearningRates;
        var time = schedule.IntrinsicTime;
        for (int e = 0; e < steps.Length; e++)
        {
            int k = steps[e];
            double drop = 0;
            for (int i = 1; i <= k; i++)
            {
                double d = eta[i - 1] - eta[i];
                if (d == 0 || (d < 0 && !CountIncreases)) continue;
                drop += b * d * (1 + r * Math.Pow(time[i], -s)) * (1 - Math.Pow(1 + c4 * (time[k] - time[i]), -gamma));
            }
            losses[e] = l0 + c1 * Math.Pow(time[k], -s) - drop;
        }
    }
}
