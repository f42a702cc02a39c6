using System.Numerics.Tensors;
using FslTorch.Schedules;
using MathNet.Numerics;

namespace FslTorch.Surrogates;

/// <summary>
/// The Multi-Power Law of Luo et al. (ICLR 2025, arXiv 2503.12811), in its reference code's convention
/// (0-based steps, warmup included, cs the inclusive cumulative LR; docs/fsl-spec.md §4):
/// <code>
/// L(t) = L0 + A·cs[t]^(−α) − B·Σ_{k=1..t} (η_{k−1} − η_k)·(1 − (1 + C·η_k^(−γ)·(cs[t] − cs[k−1]))^(−β))
/// </code>
/// so that the published parameters reproduce the published predictions. Fast evaluation: each source k
/// has its own kernel scale a_k = C·η_k^(−γ); on one shared node grid z_n the kernel is
/// (1 + a·x)^(−β) ≈ Σ_n W_n(a)·e^(−z_n·x) with W_n(a) = h·z_n^β·e^(−z_n/a)·a^(−β)/Γ(β) (the quadrature of
/// <see cref="PowerKernelQuadrature"/> with y = z/a), so every mode decays at a rate free of parameters.
/// </summary>
public sealed class MultiPowerLaw : LossCurveLaw
{
    private static readonly LawParameter[] Names =
    [
        new("L0", "irreducible loss"),
        new("A", "amplitude of the power law in the LR sum"),
        new("alpha", "exponent of the power law in the LR sum"),
        new("B", "scale of the loss reduction from LR decay"),
        new("C", "time scale of the loss reduction, C·η^(−γ)"),
        new("beta", "exponent of the loss-reduction saturation"),
        new("gamma", "LR dependence of the loss-reduction time scale"),
    ];

    /// <param name="tolerance">Absolute tolerance of the sum-of-exponentials kernel.</param>
    public MultiPowerLaw(double tolerance = PowerKernelQuadrature.DefaultTolerance) =>
        Tolerance = Schedules.Guard.InRange(tolerance, 1e-15, 1e-3, nameof(tolerance));

    /// <summary>The published fit for the 25M model of `mpl/` (L0, A, α, B, C, β, γ), in raw LR units.</summary>
    public static IReadOnlyList<double> Published25M { get; } = [3.04045, 0.52469, 0.50787, 363.788, 2.066, 0.5828, 0.6414];

    /// <summary>Absolute tolerance of the kernel quadrature.</summary>
    public double Tolerance { get; }

    /// <inheritdoc />
    public override LossCurveLaw WithKernelTolerance(double tolerance) => new MultiPowerLaw(tolerance);

    /// <inheritdoc />
    protected override void ConvertLearningRateUnitCore(double[] p, double ratio)
    {
        // A·cs^(−α) keeps its value as cs scales; B multiplies LR differences; C·η^(−γ)·Δcs is unit-free.
        p[1] *= Math.Pow(ratio, p[2]);
        p[3] /= ratio;
        p[4] *= Math.Pow(ratio, p[6] - 1);
    }

    /// <inheritdoc />
    public override string Name => "mpl";

    /// <inheritdoc />
    public override string Formula =>
        "L(t) = L0 + A·cs[t]^(−α) − B·Σ_{k≤t} (η_{k−1} − η_k)·(1 − (1 + C·η_k^(−γ)·(cs[t] − cs[k−1]))^(−β))";

    /// <inheritdoc />
    public override IReadOnlyList<LawParameter> Parameters => Names;

    // Beyond this many modes the source scales span more than e^300: a parameter far outside any fit's range.
    private const int MaxModes = 1000;

    // An LR of exactly zero would make a = C·η^(−γ) infinite; such a source is given this floor (relative to the peak).
    private const double RelativeFloor = 1e-12;

    /// <inheritdoc />
    public override IReadOnlyList<string> DecayResponseParameters => ["B", "C", "beta", "gamma"];

    /// <inheritdoc />
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha)
    {
        foreach (double c in new[] { 0.01, 0.1, 1.0 })
        foreach (double b in new[] { 0.1, 0.3 })
        {
            yield return [l0, a, alpha, b, c, 0.6, 0.6];
        }
    }

    /// <inheritdoc />
    protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian)
    {
        double l0 = p[0], a = p[1], alpha = p[2], b = p[3], c = p[4], beta = p[5], gamma = p[6];
        bool gradient = !jacobian.IsEmpty;
        var eta = schedule.LearningRates;
        var cs = schedule.IntrinsicTime;
        int last = steps.IsEmpty ? 0 : steps[^1];

        // The range of source scales decides how far the shared grid must reach.
        double peak = 0;
        for (int k = 1; k <= last; k++)
        {
            if (eta[k] != eta[k - 1]) peak = Math.Max(peak, eta[k]);
        }
        double floor = Math.Max(peak * RelativeFloor, double.Epsilon), logC = Math.Log(c);
        // A source whose kernel is already below the tolerance after its own step, (1 + a·η_k)^(−β) with
        // x ≥ η_k, is fully realised at once: it only adds d to the sum and needs no modes.
        double saturation = -Math.Log(Tolerance * 1e-2) / beta;
        bool Saturated(double logScale, double etaK) => Math.Log(1 + Math.Exp(logScale) * etaK) > saturation;
        double logScaleMax = double.NegativeInfinity, logScaleMin = double.PositiveInfinity;
        for (int k = 1; k <= last; k++)
        {
            if (eta[k] == eta[k - 1]) continue;
            double etaK = Math.Max(eta[k], floor), logScale = logC - gamma * Math.Log(etaK);
            if (Saturated(logScale, etaK)) continue;
            logScaleMax = Math.Max(logScaleMax, logScale);
            logScaleMin = Math.Min(logScaleMin, logScale);
        }
        if (double.IsInfinity(logScaleMax)) logScaleMax = logScaleMin = logC;
        // Nodes z = a·y for y on the standard grid, for every a in [a_min, a_max]; node 0 (z = 0) lumps the
        // modes that never decay noticeably before the last step (z·cs[last] ≤ ε), as in PowerKernelQuadrature.
        var (yLower, yUpper, step) = PowerKernelQuadrature.Range(beta, Tolerance);
        double lower = Math.Max(yLower + logScaleMin, Math.Log(Tolerance / Math.Max(cs[last], double.Epsilon)));
        double upper = yUpper + logScaleMax;
        double span = Math.Ceiling((upper - lower) / step) + 2;
        if (!(span <= MaxModes))
        {
            throw new ArgumentOutOfRangeException(nameof(p),
                $"C·η^(−γ) spans more than {MaxModes} quadrature nodes over this schedule (C = {c}, γ = {gamma}); such parameters are outside the supported range.");
        }
        int q = (int)span;
        var logNodes = new double[q];
        var nodes = new double[q];
        for (int n = 1; n < q; n++)
        {
            logNodes[n] = lower + (n - 1) * step;
            nodes[n] = Math.Exp(logNodes[n]);
        }
        double logH = Math.Log(step) - SpecialFunctions.GammaLn(beta), digamma = SpecialFunctions.DiGamma(beta);

        // Channels: the kernel sum (0) and, for the gradient, its derivatives through ln a for C (1) and γ (2), and β (3).
        const int K = 0, KC = 1, KGamma = 2, KBeta = 3;
        var bank = new ModeBank(nodes, gradient ? 4 : 1, 0);
        var deposit = new double[q];
        var scratch = new double[q];
        double sum = 0;
        int at = 0;

        for (int e = 0; e < steps.Length; e++)
        {
            int target = steps[e];
            for (int k = at + 1; k <= target; k++)
            {
                if (eta[k] == eta[k - 1])
                {
                    // A constant stretch: no sources until the next change or the target.
                    int end = ScheduleScan.EndOfConstantStretch(eta, k, target);
                    bank.Advance(cs[end] - cs[k - 1], 1);
                    k = end;
                    continue;
                }
                // Source k: deposit d·W_n(a_k), then decay through step k itself (cs[t] − cs[k−1] includes η_k).
                double d = eta[k - 1] - eta[k];
                double etaK = Math.Max(eta[k], floor);
                double logScale = logC - gamma * Math.Log(etaK), scale = Math.Exp(logScale);
                if (Saturated(logScale, etaK))
                {
                    sum += d;
                    bank.Advance(eta[k], 1);
                    continue;
                }
                // W_n(a) = exp(β·ln z_n − z_n/a + ln h − ln Γ(β) − β·ln a)
                TensorPrimitives.Multiply(nodes, -1 / scale, deposit);
                TensorPrimitives.MultiplyAdd(logNodes, beta, deposit, deposit);
                TensorPrimitives.Add(deposit, logH - beta * logScale, deposit);
                TensorPrimitives.Exp(deposit, deposit);
                deposit[0] = 0;
                deposit[0] = Math.Max(0, 1 - TensorPrimitives.Sum<double>(deposit));
                bank.Deposit(K, deposit, d);
                sum += d;
                if (gradient)
                {
                    // ∂W/∂ln a = W·(z/a − β); ∂ln a/∂C = 1/C, ∂ln a/∂γ = −ln η_k; ∂W/∂β = W·(ln z − ln a − ψ(β)).
                    // Node 0 carries 1 − Σ W_n, so its derivative is −Σ of the others'.
                    TensorPrimitives.Multiply(nodes, 1 / scale, scratch);
                    TensorPrimitives.Subtract(scratch, beta, scratch);
                    TensorPrimitives.Multiply(scratch, deposit, scratch);
                    scratch[0] = 0;
                    scratch[0] = -TensorPrimitives.Sum<double>(scratch);
                    bank.Deposit(KC, scratch, d);
                    bank.Deposit(KGamma, scratch, -d * Math.Log(etaK));
                    TensorPrimitives.Subtract(logNodes, logScale + digamma, scratch);
                    TensorPrimitives.Multiply(scratch, deposit, scratch);
                    scratch[0] = 0;
                    scratch[0] = -TensorPrimitives.Sum<double>(scratch);
                    bank.Deposit(KBeta, scratch, d);
                }
                bank.Advance(eta[k], 1);
            }
            at = target;

            double signal = Math.Pow(cs[target], -alpha);
            double kernelSum = bank.Sum(K);
            losses[e] = l0 + a * signal - b * (sum - kernelSum);
            if (!gradient) continue;
            var row = jacobian.Slice(e * 7, 7);
            row[0] = 1;
            row[1] = signal;
            row[2] = -a * Math.Log(cs[target]) * signal;
            row[3] = -(sum - kernelSum);
            row[4] = b * bank.Sum(KC) / c;
            row[5] = b * bank.Sum(KBeta);
            row[6] = b * bank.Sum(KGamma);
        }
    }

    /// <inheritdoc />
    protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses)
    {
        double l0 = p[0], a = p[1], alpha = p[2], b = p[3], c = p[4], beta = p[5], gamma = p[6];
        var eta = schedule.LearningRates;
        var cs = schedule.IntrinsicTime;
        double peak = 0;
        for (int k = 0; k < eta.Length; k++) peak = Math.Max(peak, eta[k]);
        double floor = Math.Max(peak * RelativeFloor, double.Epsilon);
        for (int e = 0; e < steps.Length; e++)
        {
            int t = steps[e];
            double drop = 0;
            for (int k = 1; k <= t; k++)
            {
                double d = eta[k - 1] - eta[k];
                if (d == 0) continue;
                double scale = c * Math.Pow(Math.Max(eta[k], floor), -gamma);
                drop += d * (1 - Math.Pow(1 + scale * (cs[t] - cs[k - 1]), -beta));
            }
            losses[e] = l0 + a * Math.Pow(cs[t], -alpha) - b * drop;
        }
    }
}
