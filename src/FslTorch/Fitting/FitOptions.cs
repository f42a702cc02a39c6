namespace FslTorch.Fitting;

/// <summary>
/// How <see cref="LawFitter"/> solves a <see cref="FitProblem"/>: the solver's settings, every default here.
/// Validated when a fit starts.
/// </summary>
public sealed record FitOptions
{
    /// <summary>δ of the Huber loss on log residuals ln L − ln L̂ (1e-3, the MPL and FSL papers' protocol).</summary>
    public double HuberDelta { get; init; } = 1e-3;

    /// <summary>How many of the best grid starting points are refined (multi-start).</summary>
    public int Starts { get; init; } = 3;

    /// <summary>Extra starts drawn around the best grid point with this seed (0 = none).</summary>
    public int RandomStarts { get; init; }

    /// <summary>The seed of the random starts.</summary>
    public int Seed { get; init; }

    /// <summary>Levenberg–Marquardt iterations per start and reweighting round.</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>Levenberg–Marquardt iterations spent on each start before the best one is refined.</summary>
    public int ScreeningIterations { get; init; } = 25;

    /// <summary>
    /// How many of the best screened starts are refined to the end (the lowest objective wins). One round from a start
    /// ranks the starts poorly; with 1, refits of live TinyGpt runs stayed in fits 4–8% worse than the best reachable,
    /// and forecast 0.2–0.7 nats off (README, "Thirteenth session").
    /// </summary>
    public int RefinedStarts { get; init; } = 2;

    /// <summary>Iteratively reweighted rounds that turn least squares into the Huber loss.</summary>
    public int HuberRounds { get; init; } = 3;

    /// <summary>
    /// While fitting, each curve's LR is replaced by its mean over blocks of this many steps wherever it changes
    /// inside a block (intrinsic time at block ends is unchanged). Sources merge 8 to 1, which speeds up fits
    /// several-fold and moves predictions by about 1e-5 (docs/fsl-spec.md §6); 1 fits the exact schedule.
    /// Predictions from the result always use the exact schedule.
    /// </summary>
    public int ScheduleBlockSteps { get; init; } = 8;

    /// <summary>
    /// A merged block (<see cref="ScheduleBlockSteps"/>) grows on while its LR stays within this relative spread
    /// (max ≤ (1 + spread)·min), up to 5% of the intrinsic time before it: a smooth decay merges into blocks of tens of
    /// steps instead of 8. 0 keeps blocks at <see cref="ScheduleBlockSteps"/>; null (the default) takes the law's
    /// <see cref="Surrogates.LossCurveLaw.FitScheduleBlockSpread"/>.
    /// </summary>
    public double? ScheduleBlockSpread { get; init; }

    /// <summary>
    /// While fitting, a law whose every step is a source (the direct FSL) merges each constant-LR stretch into
    /// blocks of at most this fraction of the intrinsic time before them (<see cref="Surrogates.LossCurveLaw.WithSourceBlocks"/>):
    /// a 50,000-step constant run becomes a few hundred sources. 0 fits the exact law.
    /// </summary>
    public double SourceBlockFraction { get; init; } = 0.02;

    /// <summary>
    /// Absolute tolerance of the laws' sum-of-exponentials kernels while fitting (the result predicts with the
    /// law as given). Fit residuals are ~1e-3, so 1e-8 loses nothing and needs fewer modes.
    /// </summary>
    public double KernelTolerance { get; init; } = 1e-8;

    /// <summary>
    /// Whether the points of each curve before its peak LR (the warmup) are fitted. They are left out by
    /// default, as in [P1] (docs/fsl-spec.md §3): no law here follows the first steps of a run, where the loss
    /// falls from ln(vocabulary) by several nats, and fitting them bends the laws' long-horizon extrapolation
    /// (README, "Why the practical FSL was biased").
    /// </summary>
    public bool FitWarmup { get; init; }

    /// <summary>
    /// A fit succeeds only if the law can evaluate its parameters over this many times the longest fitted
    /// horizon (at the peak LR, then decaying to zero); otherwise it is reported as failed, so a fit that is
    /// accepted can always be used for forecasts.
    /// </summary>
    public double EvaluableHorizonFactor { get; init; } = 10;

    /// <summary>Convergence tolerance on the gradient, the step and the objective.</summary>
    public double Tolerance { get; init; } = 1e-8;

    internal void Validate()
    {
        if (!(HuberDelta > 0) || !double.IsFinite(HuberDelta)) throw new ArgumentOutOfRangeException(nameof(HuberDelta), HuberDelta, "HuberDelta must be a finite number > 0.");
        if (Starts < 1) throw new ArgumentOutOfRangeException(nameof(Starts), Starts, "Starts must be >= 1.");
        if (RandomStarts < 0) throw new ArgumentOutOfRangeException(nameof(RandomStarts), RandomStarts, "RandomStarts must be >= 0.");
        if (MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "MaxIterations must be >= 1.");
        if (ScreeningIterations < 1) throw new ArgumentOutOfRangeException(nameof(ScreeningIterations), ScreeningIterations, "ScreeningIterations must be >= 1.");
        if (RefinedStarts < 1) throw new ArgumentOutOfRangeException(nameof(RefinedStarts), RefinedStarts, "RefinedStarts must be >= 1.");
        if (HuberRounds < 1) throw new ArgumentOutOfRangeException(nameof(HuberRounds), HuberRounds, "HuberRounds must be >= 1.");
        if (ScheduleBlockSpread is double spread && !(spread >= 0 && spread <= 0.1)) throw new ArgumentOutOfRangeException(nameof(ScheduleBlockSpread), ScheduleBlockSpread, "ScheduleBlockSpread must be in [0, 0.1].");
        if (ScheduleBlockSteps < 1) throw new ArgumentOutOfRangeException(nameof(ScheduleBlockSteps), ScheduleBlockSteps, "ScheduleBlockSteps must be >= 1.");
        if (!(KernelTolerance > 0) || KernelTolerance > 1e-3) throw new ArgumentOutOfRangeException(nameof(KernelTolerance), KernelTolerance, "KernelTolerance must be in (0, 1e-3].");
        if (!(EvaluableHorizonFactor >= 1) || !double.IsFinite(EvaluableHorizonFactor)) throw new ArgumentOutOfRangeException(nameof(EvaluableHorizonFactor), EvaluableHorizonFactor, "EvaluableHorizonFactor must be a finite number >= 1.");
        if (!(SourceBlockFraction >= 0 && SourceBlockFraction <= 0.5)) throw new ArgumentOutOfRangeException(nameof(SourceBlockFraction), SourceBlockFraction, "SourceBlockFraction must be in [0, 0.5].");
        if (!(Tolerance > 0)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "Tolerance must be > 0.");
    }
}
