namespace FslTorch.Control;

/// <summary>
/// Options of <see cref="WsdDecayController"/>, the library defaults in one place (docs/fsl-spec.md §7).
/// Fractions are of the budget N.
/// </summary>
public sealed record DecayControllerOptions
{
    /// <summary>
    /// Start the decay now unless some later start is predicted to end lower by more than this many nats
    /// (plus <see cref="UncertaintyWeight"/> standard deviations of that gain). Without a margin, forecasts that
    /// keep promising a little more from waiting start too late (the spec's prototypes lost 5× more).
    /// 0.001 is the spec's value; on the replay benchmark of the README (`fsl bench decay`) margins of 0.001,
    /// 0.002 and 0.004 gave mean/max regret 0.0000/0.0001, 0.0001/0.0010 and 0.0006/0.0026 nats.
    /// </summary>
    public double Margin { get; init; } = 0.001;

    /// <summary>
    /// How many standard deviations of the predicted gain of waiting are added to the margin (0: none are drawn). When
    /// they cannot be drawn (a fit without a usable covariance, or draws the law cannot evaluate), the controller waits.
    /// </summary>
    public double UncertaintyWeight { get; init; } = 1.0;

    /// <summary>
    /// When the predicted gain of waiting is more uncertain than this (standard deviation over parameter draws,
    /// nats), the forecast cannot tell starting now from waiting, and the controller waits for more data (the
    /// rails still start the decay at the latest start). Early in a run without a calibrated prior the band is
    /// wide, and the margin rule alone would then start the cooldown at once.
    /// </summary>
    public double MaxGainUncertainty { get; init; } = 0.01;

    /// <summary>
    /// The decay only starts by the margin rule once this many consecutive decisions agree: the last fit predicts, for
    /// the decay start that each of the decisions before it found best, a final loss within <see cref="ForecastTolerance"/>
    /// of that decision's. Early fits, before the law is pinned down, jump around, and acting on one of them would commit
    /// a run to a cooldown on a whim. With
    /// <see cref="RequireDecayEvidence"/> only decisions whose forecasts had decay evidence count: one made before
    /// the run had any guessed the cooldown's response.
    /// </summary>
    public int StableForecasts { get; init; } = 3;

    /// <summary>
    /// Also count the forecasts as stable, whatever their levels, when the last <see cref="StableForecasts"/> decisions
    /// (those with decay evidence, as above) each found a decay from its own step best: once the optimum has passed,
    /// every fit says "start now", and fits refitted far apart (a sparse refit cadence) can still move by more than
    /// <see cref="ForecastTolerance"/> in level while agreeing on what to do. On by default since the thirtieth session;
    /// TinyGpt's decay control, behind the best cooldown fraction: live on the CPU 0.0084 → 0.0027 nats (four default-corpus
    /// seeds; 0.0041 on two SOTU seeds); replayed on 12 GPU runs with refits every 240 steps (the cadence a CPU run's 1%
    /// budget pays for) 0.0070 / 0.0038 → 0.0043 / 0.0018 (default corpus / SOTU), never worse than the fixed plan; refitted
    /// every 40 steps it started 8 of the 12 decays earlier (52% cooldowns instead of 42–50%), which the runs' 20/30/40%
    /// grid scores alike (README, "What the decay control buys").
    /// </summary>
    public bool AgreeingStartsAreStable { get; init; } = true;

    /// <summary>How far (nats) the last fit's final loss for an earlier decision's best decay start may lie from that decision's and still count as stable.</summary>
    public double ForecastTolerance { get; init; } = 0.02;

    /// <summary>
    /// Before the controller starts the decay or moves its plan, a <see cref="Hindcast"/> checks that the law extrapolates this run:
    /// a fit on the points up to t²/N must predict the loss just before t to within this fraction of the drop the
    /// loss made in between (plus two standard errors of noise); otherwise the controller waits. The decision
    /// rests on extrapolating from t to N, and a law that cannot follow the run over the same ratio of steps
    /// (e.g. a loss that speeds up after a plateau) would otherwise commit it to a long cooldown.
    /// <see cref="double.PositiveInfinity"/> turns the check off. Applies when the caller supplies hindcasts
    /// (<see cref="TrainingMonitor"/> does). A check counts only when the loss fell between its two stretches by more than
    /// twice the checked stretch's standard error (<see cref="Hindcast.ObservedDrop"/>, <see cref="Hindcast.StandardError"/>):
    /// where the loss moves less than its noise over that span, any prediction near the observed level passes.
    /// 0.5 is the forecasts' own test (<see cref="ForecasterOptions.CalibrationTolerance"/>): the controller acts on the
    /// forecasts that are calibrated. (Until the twenty-seventh session it was 0.1; README, "What the decay control buys".)
    /// </summary>
    public double HindcastTolerance { get; init; } = 0.5;
    /// <summary>
    /// How many decisions in a row must pass their hindcast (one is made at every decision from the earliest
    /// start on) before the controller acts again once a hindcast has failed: a law that kept failing and
    /// passes once, just inside the noise, has not earned trust. Before any failure one passing check suffices.
    /// </summary>
    public int HindcastPasses { get; init; } = 3;
    /// <summary>The decay never starts before this fraction of the budget (a minimum stable phase).</summary>
    public double MinStableFraction { get; init; } = 0.1;

    /// <summary>The shortest cooldown allowed, as a fraction of N: the latest start is N − ⌊f·N⌋.</summary>
    public double MinDecayFraction { get; init; } = 0.05;

    /// <summary>The longest cooldown allowed, as a fraction of N: the earliest start is N − ⌊f·N⌋.</summary>
    public double MaxDecayFraction { get; init; } = 0.9;

    /// <summary>How many decay starts are compared, evenly spread over the feasible range.</summary>
    public int Candidates { get; init; } = 48;

    /// <summary>Parameter draws from the fit's covariance used for the uncertainty of the gain.</summary>
    public int UncertaintySamples { get; init; } = 16;

    /// <summary>The seed of those draws (decisions are deterministic).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Never move the decay on a forecast whose decay response the run has no evidence for (no LR decrease seen,
    /// no measured prior: <see cref="Forecast.HasDecayEvidence"/>); the plan then stays. On by default: a prior
    /// fitted to another model can be off by an order of magnitude (docs: live forecasting measurements).
    /// </summary>
    public bool RequireDecayEvidence { get; init; } = true;

    internal void Validate()
    {
        if (!(Margin >= 0) || !double.IsFinite(Margin)) throw new ArgumentOutOfRangeException(nameof(Margin), Margin, "Margin must be a finite number >= 0.");
        if (!(UncertaintyWeight >= 0) || !double.IsFinite(UncertaintyWeight)) throw new ArgumentOutOfRangeException(nameof(UncertaintyWeight), UncertaintyWeight, "UncertaintyWeight must be a finite number >= 0.");
        if (StableForecasts < 1) throw new ArgumentOutOfRangeException(nameof(StableForecasts), StableForecasts, "StableForecasts must be >= 1.");
        if (!(ForecastTolerance > 0)) throw new ArgumentOutOfRangeException(nameof(ForecastTolerance), ForecastTolerance, "ForecastTolerance must be > 0.");
        if (!(HindcastTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(HindcastTolerance), HindcastTolerance, "HindcastTolerance must be >= 0 (+∞ turns the check off).");
        if (HindcastPasses < 1) throw new ArgumentOutOfRangeException(nameof(HindcastPasses), HindcastPasses, "HindcastPasses must be >= 1.");
        if (!(MaxGainUncertainty > 0)) throw new ArgumentOutOfRangeException(nameof(MaxGainUncertainty), MaxGainUncertainty, "MaxGainUncertainty must be > 0.");
        if (!(MinStableFraction >= 0 && MinStableFraction < 1)) throw new ArgumentOutOfRangeException(nameof(MinStableFraction), MinStableFraction, "MinStableFraction must be in [0, 1).");
        if (!(MinDecayFraction > 0 && MinDecayFraction <= MaxDecayFraction)) throw new ArgumentOutOfRangeException(nameof(MinDecayFraction), MinDecayFraction, "MinDecayFraction must be in (0, MaxDecayFraction].");
        if (!(MaxDecayFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(MaxDecayFraction), MaxDecayFraction, "MaxDecayFraction must be <= 1.");
        if (Candidates < 2) throw new ArgumentOutOfRangeException(nameof(Candidates), Candidates, "Candidates must be >= 2.");
        if (UncertaintySamples < 0) throw new ArgumentOutOfRangeException(nameof(UncertaintySamples), UncertaintySamples, "UncertaintySamples must be >= 0.");
    }
}
