using FslTorch.Fitting;

namespace FslTorch.Control;

/// <summary>
/// A sweep of runs that differ in one positive setting (a peak LR, a model size), run one after another, in which
/// every run after the first stops early once its calibrated forecast says it cannot finish within
/// <see cref="Margin"/> of the best finished run (<see cref="EarlyStoppingMode.Abort"/>), and takes the last fit of the
/// finished run nearest to it (in log setting) as its prior.
/// </summary>
/// <remarks>
/// The prior is what lets a fixed schedule's run vote at all: until its own cooldown begins, nothing in a run shows
/// how much the cooldown ahead will buy, so its forecasts cannot be calibrated (<see cref="Forecast.HasDecayEvidence"/>)
/// and the monitor's Abort mode never stops it. A finished run of the same sweep has measured that response on the
/// same model and data; the next run's fits are held near its parameters (all but the level, by default) with a spread
/// of <see cref="PriorSpread"/> (log units).
/// Settings are best run middle first (<see cref="MiddleOut"/>): a good run early sets a tight threshold for the rest.
/// A stop is only as good as the forecast behind it: early in a run whose loss has not settled into the law (a short
/// byte-level run in its plateau-and-drop phase) a calibrated band can still be confidently wrong (one TinyGpt run was
/// stopped that would have ended below its threshold). So, by default, each vote's band is widened by how far the
/// same finished run's own forecasts were off at the same fraction of its budget
/// (<see cref="EarlyStoppingOptions.ReferenceErrors"/>; README, "Sweeps with early abort").
/// <code>
/// var sweep = new EarlyAbortSweep(margin: 0.02);
/// foreach (double lr in EarlyAbortSweep.MiddleOut(rates))
/// {
///     using var monitor = new TrainingMonitor(ScheduleFor(lr), total, sweep.OptionsFor(lr, options));
///     long steps = Train(lr, monitor); // until monitor.OnStepEnd signals Stop, or the budget ends
///     sweep.Record(lr, monitor, steps, finalLoss);
/// }
/// </code>
/// </remarks>
public sealed class EarlyAbortSweep
{
    private readonly List<SweepRun> _runs = [];

    /// <param name="margin">A run is stopped once its forecast band says it will finish above the best finished run's final loss plus this (nats, ≥ 0).</param>
    /// <param name="priorSpread">The prior's standard deviation (log units) on the parameters taken from a finished run.</param>
    /// <param name="priorParameters">
    /// The parameters the prior holds; when null, every parameter of the law but its level (<see cref="ShapeParameters"/>):
    /// the law takes the schedule, peak included, as its input, so runs that differ only in their LRs share its
    /// parameters, while the level is pinned by a run's own first points and a finished run's can be degenerate (L0 ≈ 10⁻⁶
    /// in a short byte-level run). On the 124M grid's LR sweeps holding the level too did about as well (README, "fsl bench
    /// sweep"). Name the law's <see cref="Surrogates.LossCurveLaw.DecayResponseParameters"/> for a sweep over model sizes.
    /// </param>
    /// <param name="widenByReference">
    /// Whether each vote's band is widened by the error that the forecasts of the finished run nearest in setting made
    /// at the same fraction of its budget (<see cref="ReferenceErrorsFor"/>).
    /// </param>
    public EarlyAbortSweep(double margin, double priorSpread = DefaultPriorSpread, IReadOnlyList<string>? priorParameters = null, bool widenByReference = true)
    {
        if (!(margin >= 0) || double.IsPositiveInfinity(margin)) throw new ArgumentOutOfRangeException(nameof(margin), margin, "margin must be a finite number >= 0.");
        if (!(priorSpread > 0) || double.IsPositiveInfinity(priorSpread)) throw new ArgumentOutOfRangeException(nameof(priorSpread), priorSpread, "priorSpread must be a finite number > 0.");
        Margin = margin;
        PriorSpread = priorSpread;
        PriorParameters = priorParameters?.ToArray();
        WidenByReference = widenByReference;
    }

    /// <summary>Whether each vote's band is widened by the nearest finished run's forecast errors (<see cref="ReferenceErrorsFor"/>).</summary>
    public bool WidenByReference { get; }

    /// <summary>The parameters the prior from a finished run holds (null: <see cref="ShapeParameters"/> of its law).</summary>
    public IReadOnlyList<string>? PriorParameters { get; }

    /// <summary>A law's parameters but its level (L0 and the amplitude of its signal term): what a run of a peak-LR sweep takes from a finished one by default.</summary>
    public static IReadOnlyList<string> ShapeParameters(Surrogates.LossCurveLaw law)
    {
        ArgumentNullException.ThrowIfNull(law);
        return law.Parameters.Select(p => p.Name).Where(name => name != "L0" && name != law.AmplitudeParameter).ToList();
    }

    /// <summary>The default spread of the prior from a finished run (log units): that run had another setting, so its response is a guide, not a measurement of this run.</summary>
    public const double DefaultPriorSpread = 0.1;

    /// <summary>
    /// The longest a forecast of a run that may be stopped stands without a refit, as a fraction of the budget
    /// (<see cref="ForecasterOptions.MaxForecastAge"/>): each forecast can stop the run, and on a short run the monitor's
    /// wall-time share alone left a 1000-step TinyGpt run five refits, the last at 74%, where one that could not be
    /// checked against the run's recent past kept a run 0.3 nats above its threshold going to the end.
    /// </summary>
    public const double MaxForecastAge = 0.05;

    /// <summary>The margin above the best finished run's final loss that a run must be forecast to miss before it stops.</summary>
    public double Margin { get; }

    /// <summary>The prior's spread on the parameters it holds (log units).</summary>
    public double PriorSpread { get; }

    /// <summary>The runs recorded so far, in order.</summary>
    public IReadOnlyList<SweepRun> Runs => _runs;

    /// <summary>The finished (not stopped) run with the lowest final loss; null before one finished.</summary>
    public SweepRun? Best => _runs.Where(r => r.Finished).MinBy(r => r.FinalLoss);

    /// <summary>The loss a run must be forecast to stay below: the best finished run's final loss plus <see cref="Margin"/>; null before one finished.</summary>
    public double? Threshold => Best is { } best ? best.FinalLoss + Margin : null;

    /// <summary>The steps the recorded runs took.</summary>
    public long StepsTaken => _runs.Sum(r => r.StepsTaken);

    /// <summary>The steps the recorded runs would have taken to the end of their budgets.</summary>
    public long StepsBudgeted => _runs.Sum(r => r.TotalSteps);

    /// <summary>The share of the budgeted steps that early stops saved (0 before any run).</summary>
    public double SavedShare => StepsBudgeted == 0 ? 0 : 1 - (double)StepsTaken / StepsBudgeted;

    /// <summary>
    /// The monitor options of the run with <paramref name="setting"/>: <paramref name="options"/> with Abort early
    /// stopping at <see cref="Threshold"/> (its patience kept), forecasts at most <see cref="MaxForecastAge"/> of the
    /// budget apart, unless <paramref name="options"/> has a prior of its own, the last fit of the finished run
    /// nearest in log setting as the prior (<see cref="PriorFor"/>), and, with <see cref="WidenByReference"/> and unless
    /// <paramref name="options"/> has reference errors of their own, that run's forecast errors (<see cref="ReferenceErrorsFor"/>).
    /// Before any run finished the options come back as they are (the first run has nothing to beat).
    /// </summary>
    public TrainingMonitorOptions OptionsFor(double setting, TrainingMonitorOptions options)
    {
        CheckSetting(setting);
        ArgumentNullException.ThrowIfNull(options);
        if (Threshold is not double threshold) return options;
        var forecaster = options.Forecaster with { MaxForecastAge = Math.Min(options.Forecaster.MaxForecastAge, MaxForecastAge) };
        if (forecaster.Prior == null && PriorFor(setting) is { } prior) forecaster = forecaster with { Prior = prior };
        var stopping = options.EarlyStopping with { Mode = EarlyStoppingMode.Abort, Threshold = threshold };
        if (WidenByReference && stopping.ReferenceErrors.Count == 0) stopping = stopping with { ReferenceErrors = ReferenceErrorsFor(setting) };
        return options with { Forecaster = forecaster, EarlyStopping = stopping };
    }

    /// <summary>
    /// The forecast errors of the finished run with known errors nearest to <paramref name="setting"/> in log setting
    /// (the first recorded on a tie); empty when none. The run's model and data are this run's, and its forecasts at a
    /// given fraction of its budget erred by about as much as this run's may there.
    /// </summary>
    public IReadOnlyList<ForecastError> ReferenceErrorsFor(double setting)
    {
        CheckSetting(setting);
        return _runs.Where(r => r.Finished && r.ForecastErrors.Count > 0).MinBy(r => Math.Abs(Math.Log(r.Setting / setting)))?.ForecastErrors ?? [];
    }

    /// <summary>
    /// The prior for a run with <paramref name="setting"/>: the decay response of the finished run with a fit nearest
    /// to it in log setting, with <see cref="PriorSpread"/>; null when no finished run has a fit.
    /// </summary>
    public ParameterPrior? PriorFor(double setting)
    {
        if (NearestFinished(setting)?.Fit is not { } fit) return null;
        return ParameterPrior.FromFit(fit, PriorSpread, PriorParameters ?? ShapeParameters(fit.Law));
    }

    /// <summary>The finished run with a successful fit nearest to <paramref name="setting"/> in log setting (the first recorded on a tie); null when none.</summary>
    public SweepRun? NearestFinished(double setting)
    {
        CheckSetting(setting);
        return _runs.Where(r => r.Finished && r.Fit is { Succeeded: true }).MinBy(r => Math.Abs(Math.Log(r.Setting / setting)));
    }

    /// <summary>
    /// Records a run monitored by <paramref name="monitor"/>: stopped when the monitor stopped it, with the monitor's
    /// latest fit (the decay response later runs take as their prior) and, when it finished, the errors of its
    /// forecasts against <paramref name="finalLoss"/>.
    /// </summary>
    /// <param name="setting">The run's setting (the one given to <see cref="OptionsFor"/>).</param>
    /// <param name="monitor">The run's monitor.</param>
    /// <param name="stepsTaken">The optimizer steps the run took.</param>
    /// <param name="finalLoss">The run's final loss, on the scale the monitor forecasts (for a stopped run, its loss when it stopped).</param>
    public SweepRun Record(double setting, TrainingMonitor monitor, long stepsTaken, double finalLoss)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        var errors = monitor.StopReason == null && double.IsFinite(finalLoss)
            ? ForecastError.Of(monitor.Forecasts, monitor.TotalSteps, finalLoss, monitor.Tracker.Points.Select(p => (p.Step, p.Loss)).ToList())
            : [];
        return Record(new SweepRun(setting, monitor.TotalSteps, stepsTaken, finalLoss, monitor.StopReason, monitor.LatestForecast?.Fit) { ForecastErrors = errors });
    }

    /// <summary>Records a run (for runs monitored elsewhere, such as another process).</summary>
    public SweepRun Record(SweepRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        CheckSetting(run.Setting);
        if (run.TotalSteps < 1) throw new ArgumentOutOfRangeException(nameof(run), run.TotalSteps, "A run's TotalSteps must be >= 1.");
        if (run.StepsTaken < 0 || run.StepsTaken > run.TotalSteps) throw new ArgumentOutOfRangeException(nameof(run), run.StepsTaken, $"StepsTaken must be in [0, TotalSteps = {run.TotalSteps}].");
        if (run.Finished && !double.IsFinite(run.FinalLoss)) throw new ArgumentException($"A finished run's final loss must be finite (got {run.FinalLoss}).", nameof(run));
        if (run.ForecastErrors is null) throw new ArgumentException("A run's ForecastErrors must not be null (empty: none known).", nameof(run));
        try
        {
            new EarlyStoppingOptions { ReferenceErrors = run.ForecastErrors }.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The run's ForecastErrors: {e.Message}", nameof(run), e);
        }
        _runs.Add(run);
        return run;
    }

    /// <summary>
    /// The settings in the order a sweep is best run: the middle one first (the lower of the two middles for an even
    /// count), then alternately the nearest untried above and below it, by position in the sorted settings.
    /// </summary>
    public static IReadOnlyList<double> MiddleOut(IReadOnlyList<double> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var sorted = settings.Order().ToArray();
        if (sorted.Length == 0) return [];
        int middle = (sorted.Length - 1) / 2;
        var order = new List<double> { sorted[middle] };
        for (int offset = 1; order.Count < sorted.Length; offset++)
        {
            if (middle + offset < sorted.Length) order.Add(sorted[middle + offset]);
            if (middle - offset >= 0) order.Add(sorted[middle - offset]);
        }
        return order;
    }

    /// <summary>
    /// The share of a sweep's steps that a perfect abort saves, the bound an abort rule is measured against: every run whose
    /// final loss lies more than <paramref name="margin"/> above the sweep's lowest, stopped before its first step.
    /// </summary>
    /// <param name="runs">Each run of the sweep run whole: its final loss and its steps.</param>
    /// <param name="margin">How far above the best a run must end to count as hopeless (nats, ≥ 0).</param>
    /// <exception cref="ArgumentException">No runs, a final loss that is not finite, or steps &lt; 1.</exception>
    public static double PerfectAbortSaving(IReadOnlyList<(double FinalLoss, long Steps)> runs, double margin)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("A sweep needs at least one run.", nameof(runs));
        if (runs.Any(r => !double.IsFinite(r.FinalLoss) || r.Steps < 1)) throw new ArgumentException("Every run needs a finite final loss and at least one step.", nameof(runs));
        if (!(margin >= 0) || double.IsPositiveInfinity(margin)) throw new ArgumentOutOfRangeException(nameof(margin), margin, "margin must be a finite number >= 0.");
        double best = runs.Min(r => r.FinalLoss);
        return (double)runs.Where(r => r.FinalLoss > best + margin).Sum(r => r.Steps) / runs.Sum(r => r.Steps);
    }

    private static void CheckSetting(double setting)
    {
        if (!(setting > 0) || double.IsPositiveInfinity(setting)) throw new ArgumentOutOfRangeException(nameof(setting), setting, "A sweep's setting (a peak LR, a model size) must be a finite number > 0.");
    }
}
