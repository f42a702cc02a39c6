using FslTorch.Schedules;

namespace FslTorch.Surrogates;

/// <summary>
/// The Functional Scaling Law in its direct discrete form (Li, Chen, Huang, Wang, Wu, NeurIPS 2025, Thm 4.2,
/// Eq. 8, discretised; docs/fsl-spec.md §2, derived): with t_k = T(k−1) (the intrinsic time before step k)
/// <code>
/// L_k = L0 + A·(1 + t_k/τ)^(−s) + Σ_{j&lt;k} (1 + (t_k − t_{j+1})/τ)^(−(2−1/β))·[C·(1 + t_j/τ)^(−s) + D]·η_j²
/// </code>
/// The first term is the signal still to learn; the sum is the noise each step injects (∝ η_j², scaled by
/// the excess risk then, C, plus the label noise, D) and then forgets along the kernel of exponent 2 − 1/β.
/// The spec's form C·[e + ρ] is the same law with D = C·ρ; two amplitudes remove the ridge along which fits
/// ran C → 0 with ρ → ∞ (docs/fsl-spec.md §6), so each is identified on its own and can carry a prior.
/// Every step is a source, so the fast evaluation is O(N·Q) (or less with merged source blocks).
/// <para>
/// With <c>freeNoiseExponent</c> (the law <c>fsl-direct-omega</c>) the injected noise is [C·(1 + t_j/τ)^(−s) + D]·η_j^ω
/// with the exponent ω fitted (an eighth parameter) instead of SGD's 2: at a constant LR the noise held then scales as
/// η^(ω−1) instead of η, so ω sets how the loss responds to a cooldown's depth. Fitted free on the 124M and MPL curves it
/// lands at 1.48–1.78, and predicts long and late cooldowns better (README, "Which law by default"); a constant-LR
/// curve alone cannot identify it (η^ω is then one more constant). Fits start from the η² law's optimum too
/// (<see cref="NestedLaw"/>).
/// </para>
/// </summary>
public sealed class FslDirectLaw : LossCurveLaw
{
    private static readonly LawParameter[] Names =
    [
        new("L0", "irreducible loss (includes the model-size term M^(−sβ))"),
        new("A", "amplitude of the signal term"),
        new("C", "noise injected in proportion to the excess risk: C·(1 + t/τ)^(−s)·η²"),
        new("tau", "time scale τ of intrinsic time"),
        new("s", "source exponent") { Maximum = MaxSourceExponent },
        new("beta", "capacity exponent β > 1/2; the forgetting kernel has exponent 2 − 1/β"),
        new("D", "noise injected by the label noise: D·η² (the spec's C·ρ)"),
    ];

    private static readonly LawParameter[] NamesWithExponent =
    [
        .. Names[..2],
        new("C", "noise injected in proportion to the excess risk: C·(1 + t/τ)^(−s)·η^ω"),
        .. Names[3..6],
        new("D", "noise injected by the label noise: D·η^ω"),
        new("omega", "exponent ω of the LR in the injected noise (2 for SGD's η²)"),
    ];

    /// <summary>
    /// The largest source exponent a fit may reach. (1 + t/τ)^(−s) with s above a few is no longer a power law over a
    /// run: it falls like an exponential once t passes τ, and the noise terms then take over the curve's slow decline
    /// (their early sources decaying along the kernel), which is a different account of the run's past with another
    /// cooldown response. Fits of short TinyGpt runs landed there (s = 20–45, τ ≈ 460) and forecast the cooldown's
    /// gain and the constant-LR loss both wrong; bounded, the same refits settled inside, at s = 0.6–1.6 from 55% of the
    /// run on (a hard bound at 3 and one at 5, tried first, gave mean forecast errors within 0.01 of each other; README,
    /// "Seventh session").
    /// On the 124M and MPL runs it moved three <c>fsl bench all</c> figures of this law in the last digit and no
    /// <c>fsl bench decay</c> figure.
    /// </summary>
    public const double MaxSourceExponent = 5;

    /// <param name="tolerance">Absolute tolerance of the sum-of-exponentials kernel.</param>
    /// <param name="blockFraction">
    /// 0 (exact): every step is a source. Otherwise the steps of a constant-LR stretch are merged into blocks of
    /// intrinsic length at most this fraction of (t_j + τ)/max(1, s) (the time over which the signal factor
    /// changes by that fraction); a
    /// block moves the modes on exactly (a geometric sum per mode) and deposits each step's noise with the
    /// signal factor of its middle step, an error of second order in the fraction.
    /// </param>
    /// <param name="freeNoiseExponent">Whether the LR's exponent ω in the injected noise is fitted (an eighth parameter, "omega") instead of fixed at 2.</param>
    public FslDirectLaw(double tolerance = PowerKernelQuadrature.DefaultTolerance, double blockFraction = 0, bool freeNoiseExponent = false)
    {
        Tolerance = Schedules.Guard.InRange(tolerance, 1e-15, 1e-3, nameof(tolerance));
        BlockFraction = Schedules.Guard.InRange(blockFraction, 0, 0.5, nameof(blockFraction));
        FreeNoiseExponent = freeNoiseExponent;
    }

    /// <summary>Whether the LR's exponent ω in the injected noise is a fitted parameter (<c>fsl-direct-omega</c>) rather than 2.</summary>
    public bool FreeNoiseExponent { get; }

    /// <summary>Absolute tolerance of the kernel quadrature.</summary>
    public double Tolerance { get; }

    /// <summary>The largest block of merged sources, as a fraction of t_j + τ (0: exact).</summary>
    public double BlockFraction { get; }

    /// <inheritdoc />
    public override LossCurveLaw WithKernelTolerance(double tolerance) => new FslDirectLaw(tolerance, BlockFraction, FreeNoiseExponent);

    /// <inheritdoc />
    public override LossCurveLaw WithSourceBlocks(double fraction) => new FslDirectLaw(Tolerance, fraction, FreeNoiseExponent);

    /// <inheritdoc />
    public override string Name => FreeNoiseExponent ? "fsl-direct-omega" : "fsl-direct";

    /// <inheritdoc />
    public override LossCurveLaw? NestedLaw => FreeNoiseExponent ? new FslDirectLaw(Tolerance, BlockFraction) : null;

    /// <inheritdoc />
    public override IReadOnlyList<double> NestedValues => FreeNoiseExponent ? [2.0] : [];

    /// <summary>
    /// 1%: the law's response to a block of steps depends on their LRs only through the intrinsic time (kept exact at
    /// block ends) and the injected η², whose block mean moves by a fraction of the spread squared. A cosine run's fit
    /// then evaluates about 600 blocks instead of 3000; on the MPL and 124M protocols the law's PredE and WorstE moved
    /// in the last digit at most (README, "Which law by default"). MPL's figures moved by 25%, so it keeps 8-step blocks.
    /// </summary>
    public override double FitScheduleBlockSpread => 0.01;

    /// <inheritdoc />
    public override string Formula => FreeNoiseExponent
        ? "L_k = L0 + A·(1 + t_k/τ)^(−s) + Σ_{j<k} (1 + (t_k − t_{j+1})/τ)^(−(2−1/β))·[C·(1 + t_j/τ)^(−s) + D]·η_j^ω"
        : "L_k = L0 + A·(1 + t_k/τ)^(−s) + Σ_{j<k} (1 + (t_k − t_{j+1})/τ)^(−(2−1/β))·[C·(1 + t_j/τ)^(−s) + D]·η_j²";

    /// <inheritdoc />
    public override IReadOnlyList<LawParameter> Parameters => FreeNoiseExponent ? NamesWithExponent : Names;

    /// <inheritdoc />
    // τ belongs here too: the forgetting kernel (1 + Δt/τ)^(−(2−1/β)) runs on it, so a constant-LR curve that
    // moved τ freely would move the decay response with it (the 124M replay's forecast errors halved with it pinned).
    // ω too: it sets how the noise held scales with the LR, which only an LR decrease shows.
    public override IReadOnlyList<string> DecayResponseParameters => FreeNoiseExponent ? ["C", "tau", "beta", "D", "omega"] : ["C", "tau", "beta", "D"];

    /// <inheritdoc />
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha)
    {
        // For t ≫ τ the signal A·(1 + t/τ)^(−s) ≈ A·τ^s·t^(−s), so A = A_reduced·τ^(−α). The stationary noise at
        // a constant η = 1 is about C·(e + ρ)·τ/(g − 1); start it near 0.15 nats, a typical cooldown gain.
        foreach (double tau in new[] { 10.0, 100.0, 1000.0 })
        foreach (double beta in new[] { 1.5, 3.0 })
        foreach (double rho in new[] { 0.1, 1.0 })
        {
            double g = 2 - 1 / beta;
            double c = 0.15 * (g - 1) / (tau * (rho + 0.5));
            if (!FreeNoiseExponent)
            {
                yield return [l0, a * Math.Pow(tau, -alpha), c, tau, alpha, beta, c * rho];
                continue;
            }
            // SGD's exponent and 1.5, below the 1.6–1.8 that fits of LLM curves reach: a start on either side of them.
            foreach (double omega in new[] { 1.5, 2.0 }) yield return [l0, a * Math.Pow(tau, -alpha), c, tau, alpha, beta, c * rho, omega];
        }
    }

    /// <inheritdoc />
    protected override void ConvertLearningRateUnitCore(double[] p, double ratio)
    {
        // t/τ is unit-free, so τ scales with time; the noise terms C·η^ω, D·η^ω keep their value.
        double noiseUnit = FreeNoiseExponent ? Math.Pow(ratio, p[7]) : ratio * ratio;
        p[2] /= noiseUnit;
        p[3] *= ratio;
        p[6] /= noiseUnit;
    }

    /// <inheritdoc />
    protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian)
    {
        double l0 = p[0], a = p[1], c = p[2], tau = p[3], s = p[4], beta = p[5], d = p[6];
        double omega = FreeNoiseExponent ? p[7] : 2;
        int width = p.Length;
        double g = 2 - 1 / beta;
        if (g <= 0) throw new ArgumentOutOfRangeException(nameof(p), "beta must be > 1/2.");
        bool gradient = !jacobian.IsEmpty;
        bool exponentGradient = gradient && FreeNoiseExponent;
        var eta = schedule.LearningRates;
        var time = schedule.IntrinsicTime;
        var kernel = PowerKernelQuadrature.Create(g, Tolerance, maxArgument: time[steps.IsEmpty ? 0 : steps[^1]] / tau);
        ReadOnlySpan<double> weights = kernel.Weights;

        // Channels over sources q_j: e_j·η_j^ω (0), η_j^ω (1), with their derivatives in the decay rate 1/τ;
        // ∂e_j/∂s·η_j^ω (2), ∂e_j/∂τ·η_j^ω (3), and with a free ω, ln η_j·e_j·η_j^ω (4) and ln η_j·η_j^ω (5).
        const int E = 0, One = 1, S = 2, T = 3, EW = 4, OneW = 5;
        int channels = !gradient ? 2 : exponentGradient ? 6 : 4;
        var bank = new ModeBank(kernel.Nodes, channels, gradient ? 2 : 0);
        double inverseTau = 1 / tau;
        int at = 0; // the modes hold the sources j < at
        var amounts = new double[channels];

        // The sources of step j at LR η: e_j·η^ω (0), η^ω (1), ∂e_j/∂s·η^ω (2), ∂e_j/∂τ·η^ω (3), ln η·e_j·η^ω (4), ln η·η^ω (5).
        var times = schedule.IntrinsicTimeArray;
        void Sources(int j, double rate, double[] into)
        {
            double injected = Injected(rate, omega);
            double tj = j == 0 ? 0 : times[j - 1];
            double baseTime = 1 + tj * inverseTau;
            double ej = Math.Pow(baseTime, -s);
            into[E] = ej * injected;
            into[One] = injected;
            if (!gradient) return;
            into[S] = -Math.Log(baseTime) * ej * injected;
            into[T] = s * tj * inverseTau * inverseTau / baseTime * ej * injected;
            if (!exponentGradient) return;
            double logRate = Math.Log(rate);
            into[EW] = logRate * ej * injected;
            into[OneW] = logRate * injected;
        }

        for (int e = 0; e < steps.Length; e++)
        {
            int target = steps[e];
            for (int j = at; j < target;)
            {
                int block = BlockLength(eta, time, j, target, tau, s);
                if (block > 1)
                {
                    // A constant-LR block: the modes move on exactly, the sources enter with the middle step's signal factor.
                    int middle = j + block / 2;
                    Sources(middle, eta[j], amounts);
                    bank.AdvanceBlock(eta[j], inverseTau, block, amounts);
                    j += block;
                    continue;
                }
                // The modes move on by η_j to t_{j+1}; then source j (the noise of step j, at t_j = T(j−1)) joins
                // with zero elapsed time.
                bank.Advance(eta[j], inverseTau);
                if (eta[j] != 0)
                {
                    Sources(j, eta[j], amounts);
                    for (int channel = 0; channel < amounts.Length; channel++) bank.Deposit(channel, amounts[channel]);
                }
                j++;
            }
            at = target;

            double tk = target == 0 ? 0 : time[target - 1];
            double signalBase = 1 + tk * inverseTau;
            double signal = Math.Pow(signalBase, -s);
            double ke = bank.Read(E, weights), k1 = bank.Read(One, weights);
            losses[e] = l0 + a * signal + c * ke + d * k1;
            if (!gradient) continue;
            var row = jacobian.Slice(e * width, width);
            row[0] = 1;
            row[1] = signal;
            row[2] = ke;
            // τ enters the signal, the sources' e_j, and the decay rate 1/τ (∂/∂τ = −1/τ²·∂/∂(1/τ)).
            double decayDerivative = c * bank.ReadRateDerivative(E, weights) + d * bank.ReadRateDerivative(One, weights);
            row[3] = a * s * tk * inverseTau * inverseTau / signalBase * signal
                     + c * bank.Read(T, weights) - inverseTau * inverseTau * decayDerivative;
            row[4] = -a * Math.Log(signalBase) * signal + c * bank.Read(S, weights);
            row[5] = (c * bank.Read(E, kernel.WeightDerivatives) + d * bank.Read(One, kernel.WeightDerivatives)) / (beta * beta);
            row[6] = k1;
            if (exponentGradient) row[7] = c * bank.Read(EW, weights) + d * bank.Read(OneW, weights);
        }
    }

    // The LR's part of a step's injected noise: η^ω (ω > 0, so 0 at η = 0), η·η when ω is SGD's fixed 2.
    private double Injected(double rate, double omega) => FreeNoiseExponent ? Math.Pow(rate, omega) : rate * rate;

    // How many steps from j on form one merged block: a constant LR, not past the target, and short enough that
    // the signal factor (1 + t/τ)^(−s) changes by at most the block fraction across it (its relative change over
    // Δt is about s·Δt/(t + τ); fits can reach s in the thousands with τ as large, an exponential in disguise);
    // 1 when blocks are off or not worth it.
    private int BlockLength(ReadOnlySpan<double> eta, ReadOnlySpan<double> time, int j, int target, double tau, double s)
    {
        if (BlockFraction == 0 || eta[j] == 0) return 1;
        double tj = j == 0 ? 0 : time[j - 1];
        double most = Math.Min(target - j, Math.Floor(BlockFraction * (tj + tau) / Math.Max(1, s) / eta[j]));
        int length = 1;
        while (length < most && eta[j + length] == eta[j]) length++;
        return length >= 4 ? length : 1;
    }

    /// <inheritdoc />
    protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses)
    {
        double l0 = p[0], a = p[1], c = p[2], tau = p[3], s = p[4], beta = p[5], d = p[6];
        double omega = FreeNoiseExponent ? p[7] : 2;
        double g = 2 - 1 / beta;
        var eta = schedule.LearningRates;
        var time = schedule.IntrinsicTime;
        for (int e = 0; e < steps.Length; e++)
        {
            int k = steps[e];
            double tk = k == 0 ? 0 : time[k - 1];
            double noise = 0;
            for (int j = 0; j < k; j++)
            {
                double tj = j == 0 ? 0 : time[j - 1];
                double tNext = time[j];
                noise += Math.Pow(1 + (tk - tNext) / tau, -g) * (c * Math.Pow(1 + tj / tau, -s) + d) * Injected(eta[j], omega);
            }
            losses[e] = l0 + a * Math.Pow(1 + tk / tau, -s) + noise;
        }
    }
}
