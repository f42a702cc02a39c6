using FslTorch.Fitting;
using FslTorch.Surrogates;

namespace FslTorch.Control;

/// <summary>Options of <see cref="Forecaster"/>; the library defaults in one place.</summary>
public sealed record ForecasterOptions
{
    /// <summary>The law to fit; <see cref="LossCurveLaws.Default"/> when null.</summary>
    public LossCurveLaw? Law { get; init; }

    /// <summary>
    /// Refit every this many steps. When null: every 2% of the budget (at least 10 steps), stretched to a whole
    /// multiple of that so that the forecaster's work on the training thread (refits, hindcasts, fit-start searches,
    /// and what callers add with <see cref="Forecaster.AddWork"/>, such as the monitor's decisions), with the per-step
    /// work callers charge with <see cref="Forecaster.AddLoopWork"/> (the monitor's tracking and finalizer hold, paid for
    /// up to the run's last step at its pace so far), stays within
    /// <see cref="WallTimeShare"/> of the wall time since its first step: the next refit comes once the work so far
    /// is within that share, while the rest of the run can pay for one more refit (never at the last step), and a
    /// fit-start search runs only when the rest of the run can pay for it (measured as the run goes; the next refit
    /// step is kept in the checkpoint state). A caller may ask for an earlier refit (<see cref="Forecaster.RefitBy"/>;
    /// <see cref="TrainingMonitor"/> does for its decay controller and its probes), which the share does not refuse and which
    /// takes the place of a budget refit due before it (unless <see cref="MaxForecastAge"/> or the first refit that can
    /// be checked keeps that one); and until a forecast
    /// has had a hindcast (with <see cref="CalibrateBands"/>), the next refit comes no later than the first step at which
    /// one is possible, since no forecast before it can be calibrated.
    /// </summary>
    public int? RefitInterval { get; init; }

    /// <summary>The largest share of the wall time that the forecaster's inline work, with the loop work charged to it (a <see cref="TrainingMonitor"/>'s whole cost), may take when <see cref="RefitInterval"/> is null.</summary>
    public double WallTimeShare { get; init; } = 0.01;

    /// <summary>
    /// With the adaptive interval (<see cref="RefitInterval"/> null): the longest a forecast may stand without a
    /// refit, as a fraction of the budget; past it a refit comes whatever <see cref="WallTimeShare"/> says (up to
    /// the run's last such fraction, where a forecast has little left to decide). A run too fast for its share to
    /// pay for a fit (a GPU run of half a minute, where one fit is several percent of the wall time) then still
    /// forecasts at least every <c>MaxForecastAge</c> of the budget, and its summary shows the share that took.
    /// 1 turns the floor off.
    /// </summary>
    public double MaxForecastAge { get; init; } = 0.2;

    /// <summary>The clock that measures the refits' share (the system clock when null; tests inject their own).</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>No fit before this many tracked points.</summary>
    public int MinPoints { get; init; } = 12;

    /// <summary>
    /// Leave out points before this step (the warmup's first steps say little about the law). With
    /// <see cref="ChooseFitStart"/> on, fits may start later than this, never earlier; turn it off to fit from
    /// exactly this step.
    /// </summary>
    public long FromStep { get; init; }

    /// <summary>
    /// Choose the fit's first step from the data when the law does not follow the run: when a refit's hindcast
    /// fails (and the run has grown by half since the last search), candidate starts from <see cref="FromStep"/>
    /// on are validated on the most recent quarter of the points (<see cref="FitStartSearch"/>), and the refit and
    /// those after it start where the law extrapolates best. Each forecast carries its start
    /// (<see cref="Forecast.FitStartStep"/>). On by default; a run the law follows from the start pays nothing.
    /// </summary>
    public bool ChooseFitStart { get; init; } = true;

    /// <summary>
    /// Fit off the training thread: a refit started at one refit step is collected at the next, so forecasts
    /// (and the decisions made from them) do not depend on thread timing, and the training thread pays only for
    /// gathering the inputs and, when a fit outlasts the interval, for waiting on it (the work budget,
    /// <see cref="WallTimeShare"/>, counts that time); a <see cref="TrainingMonitor"/> with calibrated bands also makes
    /// its decay decision from each such forecast in the refit's task. Meant for GPU loops, where the CPU cores are idle while the
    /// training thread queues kernels; on a CPU loop the fit takes a core from the tensor library's threads. While a
    /// background fit runs, the runtime's finalizer thread is held (<see cref="FinalizerGate"/>): with TorchSharp
    /// 0.107 a garbage collection started by another thread while the training thread is inside a native call can
    /// otherwise finalize that call's scalar argument (for example in <c>AdamW.step</c>) and crash the process (a
    /// loop training beside a thread that collects garbage crashed 7 runs out of 7 without the hold, the 4 timed within 3 s; 0
    /// of 3 in 15 s with it). Do not call <c>GC.WaitForPendingFinalizers</c> from the loop while refits run in the
    /// background: it waits until the refit is collected, or until <see cref="BackgroundReleaseTimeout"/>.
    /// </summary>
    public bool Background { get; init; }

    /// <summary>
    /// With <see cref="Background"/>: how long a finished background refit may wait for the loop to come back for it
    /// before the finalizer thread is let go (a loop waiting for pending finalizers would wait for ever); refits run
    /// inline from then on, with a warning.
    /// </summary>
    public TimeSpan BackgroundReleaseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most wall time one refit may take, its hindcast and any search for the fit's start included; a refit that
    /// runs past it is given up (logged), the previous forecast stays in force and the run goes on. A safety net: refits
    /// take well under a second on the runs measured, and the adaptive interval keeps their share small, but one fit whose
    /// trial steps ran into parameters the law evaluated for ever once hung a fit (README, "What happens when things go
    /// wrong"), which inline would have stopped the training loop. <see cref="Timeout.InfiniteTimeSpan"/>: no limit.
    /// </summary>
    public TimeSpan FitTimeLimit { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The prior of the decay-response parameters (from an earlier fit); none when null.</summary>
    public ParameterPrior? Prior { get; init; }

    /// <summary>
    /// Fit options (the prior above and the warm start from the previous fit are added). By default every start is
    /// screened for <see cref="RefitScreeningIterations"/> iterations, not the 25 of a lone fit: a refit's warm start
    /// sits at its optimum already, and in 25 iterations the other starts could not show a better basin of the
    /// objective even where there was one. Each refit's own fit also draws <see cref="RandomStarts"/> random starts.
    /// </summary>
    public FitOptions FitOptions { get; init; } = new() { ScreeningIterations = RefitScreeningIterations };

    /// <summary>
    /// Random starts of each refit's own fit (<see cref="FitOptions.RandomStarts"/>, drawn around the best of the warm start,
    /// the law's guesses and the prior); its hindcast and fit-start search fit with <see cref="FitOptions"/> as given.
    /// <see cref="RefitRandomStarts"/> by default; 0: none.
    /// </summary>
    public int RandomStarts { get; init; } = RefitRandomStarts;

    /// <summary>
    /// The default of <see cref="RandomStarts"/>. A refit warm-started from a fit made hundreds of steps earlier (the
    /// sparse refits that a 1% share pays for on a CPU) lands in whichever basin that fit's neighbourhood leads to, and
    /// which one decided the forecast: on nine 2000-step TinyGpt runs of the CPU (thirty-first session: the main job, two
    /// fixed 20% WSD, six cosine), replayed at their own refit steps, four random starts found lower objectives, and the
    /// mean |error| of the 50% forecasts fell from 0.066 to 0.031 nats (the main job's +0.070 to +0.005), of the 75% ones
    /// from 0.033 to 0.017; the 25% ones stayed at 0.09. The replays took 19% longer (README, "Thirty-first session").
    /// </summary>
    public const int RefitRandomStarts = 4;

    /// <summary>
    /// The default screening of a refit's starts. On the default TinyGpt run whose refits from the probe on stayed in a
    /// fit with s at its bound, β ≈ 0.7 and L0 = 0 (forecast +0.245 at 50%), the refit at step 999 from its warm start
    /// found that fit again with 25 iterations and a better one (objective 39,993 against 41,346; forecast 0.760 against
    /// the 0.752 reached) with 100 (README, "Eighth session").
    /// </summary>
    public const int RefitScreeningIterations = 100;

    /// <summary>The band's lower quantile over parameter draws (its upper one is 1 − this).</summary>
    public double BandQuantile { get; init; } = 0.1;

    /// <summary>Parameter draws for the band of a forecast made before any hindcast (0: none; with a hindcast the band is the measured extrapolation error).</summary>
    public int BandSamples { get; init; } = 32;

    /// <summary>
    /// Calibrate each forecast's band on the run's own evidence: a <see cref="Hindcast"/> (one more fit, on the
    /// points up to t²/N) measures how far the law's extrapolation over the same horizon ratio erred on this run,
    /// and the band is widened by it (and by the predicted gain of the part of a cooldown the run has no evidence for).
    /// A forecast without a hindcast is marked "cannot forecast yet" (<see cref="Forecast.Calibrated"/>).
    /// </summary>
    public bool CalibrateBands { get; init; } = true;

    /// <summary>
    /// A forecast counts as calibrated only when its hindcast erred by at most this fraction of the drop the loss
    /// made over the hindcast's horizon (plus two standard errors); beyond it the law does not describe this run
    /// and the forecast says "cannot forecast" (its band still holds the measured drift).
    /// </summary>
    public double CalibrationTolerance { get; init; } = 0.5;

    /// <summary>Points of the predicted curve reported in each forecast.</summary>
    public int CurvePoints { get; init; } = 64;

    internal void Validate()
    {
        if (RefitInterval is int interval && interval < 1) throw new ArgumentOutOfRangeException(nameof(RefitInterval), interval, "RefitInterval must be >= 1.");
        if (RandomStarts < 0) throw new ArgumentOutOfRangeException(nameof(RandomStarts), RandomStarts, "RandomStarts must be >= 0.");
        if (!(WallTimeShare > 0 && WallTimeShare <= 1)) throw new ArgumentOutOfRangeException(nameof(WallTimeShare), WallTimeShare, "WallTimeShare must be in (0, 1].");
        if (!(MaxForecastAge > 0 && MaxForecastAge <= 1)) throw new ArgumentOutOfRangeException(nameof(MaxForecastAge), MaxForecastAge, "MaxForecastAge must be in (0, 1].");
        if (MinPoints < 1) throw new ArgumentOutOfRangeException(nameof(MinPoints), MinPoints, "MinPoints must be >= 1.");
        if (FromStep < 0) throw new ArgumentOutOfRangeException(nameof(FromStep), FromStep, "FromStep must be >= 0.");
        if (!(BandQuantile > 0 && BandQuantile < 0.5)) throw new ArgumentOutOfRangeException(nameof(BandQuantile), BandQuantile, "BandQuantile must be in (0, 0.5).");
        if (BandSamples < 0) throw new ArgumentOutOfRangeException(nameof(BandSamples), BandSamples, "BandSamples must be >= 0.");
        if (!(CalibrationTolerance >= 0) || double.IsNaN(CalibrationTolerance)) throw new ArgumentOutOfRangeException(nameof(CalibrationTolerance), CalibrationTolerance, "CalibrationTolerance must be >= 0 (infinity: any hindcast calibrates).");
        if (FitTimeLimit <= TimeSpan.Zero && FitTimeLimit != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(FitTimeLimit), FitTimeLimit, "FitTimeLimit must be positive (Timeout.InfiniteTimeSpan: no limit).");
        }
        if (BackgroundReleaseTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(BackgroundReleaseTimeout), BackgroundReleaseTimeout, "BackgroundReleaseTimeout must be positive.");
        if (CurvePoints < 2) throw new ArgumentOutOfRangeException(nameof(CurvePoints), CurvePoints, "CurvePoints must be >= 2.");
        ArgumentNullException.ThrowIfNull(FitOptions);
    }
}
