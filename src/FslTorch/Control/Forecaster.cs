using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tracking;
using Microsoft.Extensions.Logging;

namespace FslTorch.Control;

/// <summary>
/// Refits a loss-curve law to the tracked loss every <see cref="RefitInterval"/> steps and turns each fit into a
/// <see cref="Forecast"/> of the rest of the run. Inline by default; in background mode
/// (<see cref="ForecasterOptions.Background"/>) the fit started at one refit step runs on the thread pool, with the
/// runtime's finalizer thread held (<see cref="FinalizerGate"/>), and is collected at the next refit step (waiting
/// only if it is still running), so the training thread never contends for a lock and forecasts do not depend on
/// thread timing. Between refit steps <see cref="OnStepEnd(long)"/> only compares two numbers. Each refit warm-starts from the previous fit and uses the
/// prior. A failed or throwing fit is logged and the previous forecast stays in force.
/// </summary>
public sealed class Forecaster : IDisposable
{
    private LearningRateSchedule _schedule; // the schedule in force, as the caller last passed it
    private readonly LossTracker _tracker;
    private readonly ILogger _logger;
    private readonly LossCurveLaw _law;
    private BackgroundRefit? _background;     // the refit running in the background (null when none)
    private volatile bool _inlineFromNow;     // background refits proved unsafe in this loop: inline from now on
    private volatile bool _finalizerBusy;    // a background refit found the finalizer thread busy and did not run
    private static readonly TimeSpan ParkTimeout = TimeSpan.FromSeconds(10);
    private long _backgroundTicks;           // the background refits' wall time
    private long _lastBackgroundTicks;       // the last finished one's (0: none yet)
    private Forecast? _latest;
    private IReadOnlyList<double>? _restoredWarmStart;
    private long _nextRefit;        // step + 1 of the earliest refit allowed (the adaptive stride)
    private long _refitBy = long.MaxValue; // step + 1 of the latest refit a caller asked for (RefitBy), until one comes
    private readonly SortedSet<long> _expected = []; // step + 1 of the refits that expected probes will ask for (ExpectProbe)
    private long _firstCheckable;   // step + 1 of the first refit step whose forecast can have a hindcast (0: not known)
    private long? _budgetStart;     // clock timestamp at the first step this forecaster saw (null: none yet)
    private long _budgetFirstStep;
    private ForecasterBudgetState? _restoredBudget; // the budget of a checkpoint, until the first step after it
    private TimeSpan _lastRefitCost; // the last refit step's work on this thread, with the work the caller added for it
    private int _refitsBefore;      // refit steps before the last one
    private TimeSpan _laterRefitCosts; // the work of the refit steps before the last one, the first left out
    private long _lastRefitStep = -1;
    private readonly List<CooldownProbe> _probes = [];
    private long _fitStart;         // the first step of the fits (FromStep until a search chose another)
    private long _fitStartSearchedAt;

    /// <param name="schedule">The run's schedule at the start (a caller that moves a decay start passes the new one to <see cref="OnStepEnd(long, LearningRateSchedule)"/>).</param>
    /// <param name="totalSteps">N, the budget.</param>
    /// <param name="tracker">The tracker fed by the training loop.</param>
    /// <param name="options">Options; the library defaults when null.</param>
    /// <param name="logger">Where forecasts and failures are logged.</param>
    public Forecaster(LearningRateSchedule schedule, long totalSteps, LossTracker tracker, ForecasterOptions? options = null, ILogger? logger = null)
    {
        _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        _tracker = tracker ?? throw new ArgumentNullException(nameof(tracker));
        Options = options ?? new ForecasterOptions();
        Options.Validate();
        if (totalSteps < 2 || totalSteps > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be in [2, 2^31).");
        TotalSteps = totalSteps;
        RefitInterval = Options.RefitInterval ?? (int)Math.Max(10, totalSteps / 50);
        _law = Options.Law ?? LossCurveLaws.Default;
        _logger = SafeLogger.Wrap(logger);
        _fitStart = Options.FromStep;
    }

    /// <summary>The options.</summary>
    public ForecasterOptions Options { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>Steps between refits.</summary>
    public int RefitInterval { get; }
    /// <summary>The forecast in force (null before the first successful fit). Safe to read from any thread.</summary>
    public Forecast? Latest => Volatile.Read(ref _latest);

    /// <summary>Whether <paramref name="step"/> (just taken) is a refit step.</summary>
    public bool IsRefitStep(long step) => (step + 1) % RefitInterval == 0 && step + 1 >= _nextRefit;

    /// <summary>The wall time the forecaster has spent on the training thread (refits, hindcasts, forecasts), since the run's first step (a resumed forecaster counts its checkpoint's).</summary>
    public TimeSpan WallTime { get; private set; }

    /// <summary>
    /// The per-step work charged to this forecaster's share by its caller (<see cref="AddLoopWork"/>; a
    /// <see cref="TrainingMonitor"/> charges its tracking and finalizer hold), since the run's first step.
    /// </summary>
    public TimeSpan LoopWallTime { get; private set; }

    /// <summary>
    /// Counts work that the caller does on every step for this run (tracking the loss, holding the finalizer thread)
    /// against <see cref="ForecasterOptions.WallTimeShare"/>, so that the share bounds the caller's whole cost: with the
    /// adaptive interval the refits get what is left of the share once that work, at its pace so far, is paid for up
    /// to the run's last step. Not in <see cref="WallTime"/>. Cheap: it plans nothing until the next refit.
    /// </summary>
    public void AddLoopWork(TimeSpan work)
    {
        if (work > TimeSpan.Zero) LoopWallTime += work;
    }

    /// <summary>
    /// Called after the tracker recorded <paramref name="step"/>. At a refit step it collects the pending fit
    /// and starts the next; returns the forecast that came into force at this step, or null.
    /// </summary>
    public Forecast? OnStepEnd(long step) => OnStepEnd(step, _schedule);

    /// <summary>
    /// As <see cref="OnStepEnd(long)"/>, with the schedule in force after <paramref name="step"/> (a decision may
    /// have replaced the one before): forecasts are made for it from now on.
    /// </summary>
    public Forecast? OnStepEnd(long step, LearningRateSchedule schedule)
    {
        _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        if (_budgetStart == null) StartBudget(step);
        if (!IsRefitStep(step)) return null;
        long started = Clock.GetTimestamp();
        Forecast? arrived = Collect();
        var inputs = Snapshot(step, searchAllowed: SearchAffordable(step, started));
        if (inputs != null)
        {
            if (!(Options.Background && TryStart(inputs.Value))) arrived = Publish(Refit(inputs.Value)) ?? arrived;
            AskForFirstHindcast(inputs.Value);
        }
        Account(step, started);
        return arrived;
    }

    // Until a forecast has had a hindcast, none can be calibrated: the adaptive interval refits no later than the first
    // refit step at which the hindcast will have its points (max(MinPoints, the law's parameter count) of the run's curve
    // before t²/N), whatever the budget says. On a run too fast for the budget the next refit otherwise came a fifth of
    // the budget after the first (TinyGpt's GPU runs: refits at 119 and 519 of 2000, so the forecast in force at 25% was
    // the uncalibrated one of step 119, 0.67–0.75 nats off; the first hindcast was possible at 479).
    private void AskForFirstHindcast(Inputs inputs)
    {
        // (In the background the forecast in hand is the previous refit's, or none yet.)
        if (Options.RefitInterval != null || !Options.CalibrateBands || Latest is { Hindcast: not null }) return;
        // Too few points to tell yet: the next refit asks.
        if (Control.Hindcast.FirstPossible(_law, FitCurve(inputs, inputs.FitStart), TotalSteps, Options.MinPoints) is not { } first) return;
        long aligned = FirstRefitAtOrAfter(first - 1); // `first` is a t: a refit after step t − 1
        _firstCheckable = aligned;
        if (aligned > inputs.Step + 1) RefitBy(aligned - 1);
    }

    private TimeProvider Clock => Options.TimeProvider ?? TimeProvider.System;

    // The budget's clock starts at the first step this forecaster sees; a resumed one goes on from its checkpoint's
    // (the time in between left out), and with the adaptive interval collects the refit its checkpoint had pending,
    // started again at LoadState, no sooner than that refit's last time allows, as any background refit (a fixed
    // interval collects it at the next refit step, as the run would have): the resumed TinyGpt GPU runs waited for it
    // 20 steps after the resumption (40 were planned), and that wait, charged to a budget that had started afresh,
    // left them no refit between 1319 and their end at 2000.
    private void StartBudget(long step)
    {
        long now = Clock.GetTimestamp();
        if (_restoredBudget is { } restored)
        {
            _budgetStart = now - (long)(restored.Elapsed.TotalSeconds * Clock.TimestampFrequency);
            _restoredBudget = null;
            // Before the first step after LoadState, a background refit can only be the checkpoint's, started again there.
            if (Options.RefitInterval == null && _background != null && step > _budgetFirstStep)
            {
                _nextRefit = Math.Max(_nextRefit, BackgroundReady(step, Pace(step, now).LoopPerStep));
            }
        }
        else
        {
            _budgetStart = now;
            _budgetFirstStep = step;
        }
    }

    // The step (+1) of the first refit step by which a background refit started at `step` is expected to be done: its
    // last time (a fifth more) at the loop's pace (0 before any background refit finished).
    private long BackgroundReady(long step, double loopPerStep) => BackgroundFitSeconds is { } fit
        ? (long)Math.Ceiling((step + 1 + 1.2 * fit / loopPerStep) / RefitInterval) * RefitInterval
        : 0;

    /// <summary>The schedule in force, as last passed to <see cref="OnStepEnd(long, LearningRateSchedule)"/> (read on the training thread).</summary>
    public LearningRateSchedule CurrentSchedule => _schedule;

    // The work budget (adaptive interval only): everything charged to this forecaster (its refit steps and the
    // work callers add for them, see AddWork) may take at most WallTimeShare of the wall time since its first
    // step. The next refit comes at the first interval step where the work so far is within that share (at the
    // loop's measured pace), and only while the rest of the run can still pay for one more refit of the mean cost
    // so far (the first refit left out: it also pays for compiling the fitting code). The run's work thus ends
    // within its share, give or take the last refit's deviation from that mean.
    private void Account(long step, long started)
    {
        var spent = Clock.GetElapsedTime(started);
        WallTime += spent;
        if (_lastRefitStep >= 0 && ++_refitsBefore >= 2) _laterRefitCosts += _lastRefitCost;
        _lastRefitCost = spent;
        _lastRefitStep = step;
        if (step + 1 >= _refitBy) _refitBy = long.MaxValue;
        _expected.RemoveWhere(expected => expected <= step + 1);
        PlanNextRefit();
    }

    /// <summary>
    /// Asks for a refit no later than <paramref name="step"/> (the last refit step at or before it), whatever
    /// <see cref="ForecasterOptions.WallTimeShare"/> says: <see cref="TrainingMonitor"/> asks so that its decay controller
    /// gets the forecasts it needs before the planned decay on a run too fast for the share to pay for them, and for a
    /// cooldown probe once it has ended. The requested refit takes the place of one the share alone planned before it
    /// (whose forecast would stand only until then); one that <see cref="ForecasterOptions.MaxForecastAge"/> or the first
    /// refit that can be checked asks for stays. Only the adaptive interval (<see cref="ForecasterOptions.RefitInterval"/>
    /// null) is affected; a step at or before the last refit step or past the run's last changes nothing. The work it
    /// costs counts in <see cref="WallTime"/> as any refit's.
    /// </summary>
    public void RefitBy(long step)
    {
        if (Options.RefitInterval != null) return;
        long aligned = (step + 1) / RefitInterval * RefitInterval; // step + 1 of the last refit step at or before `step`
        if (aligned <= _lastRefitStep + 1 || aligned - 1 >= TotalSteps - 1 || aligned >= _refitBy) return;
        _refitBy = aligned;
        _nextRefit = Requested(_nextRefit);
    }

    /// <summary>
    /// Tells the adaptive interval that a cooldown probe of <paramref name="steps"/> steps will fork at
    /// <paramref name="forkStep"/> and be recorded with <see cref="AddProbe"/>: the refit the probe will ask for (the first
    /// refit step at or after its last step) is planned from now on, so that a refit the share alone would plan shortly
    /// before it is not made first (its forecast would stand only until the probe's), as for <see cref="RefitBy"/>. A
    /// probe that never comes leaves a refit at that step. Only the adaptive interval is affected; a probe whose refit step
    /// is at or before the last refit step, or at or past the run's last step, changes nothing. The plan is kept in the
    /// checkpoint state.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="forkStep"/> is negative or <paramref name="steps"/> is below 2.</exception>
    public void ExpectProbe(long forkStep, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(forkStep);
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 2 (a decay needs two rates).");
        if (Options.RefitInterval != null) return;
        long aligned = FirstRefitAtOrAfter(forkStep + steps - 1);
        if (aligned <= _lastRefitStep + 1 || aligned - 1 >= TotalSteps - 1 || !_expected.Add(aligned)) return;
        _nextRefit = Requested(_nextRefit);
    }

    // Step + 1 of the first refit step at or after `step`.
    private long FirstRefitAtOrAfter(long step) => (step + RefitInterval) / RefitInterval * RefitInterval;

    // Step + 1 of the earliest refit asked for (RefitBy) or expected (ExpectProbe); long.MaxValue: none.
    private long EarliestRequest => _expected.Count == 0 ? _refitBy : Math.Min(_refitBy, _expected.Min);

    // Step + 1 of the refit that MaxForecastAge asks for after the last one (long.MaxValue when it asks for none: turned
    // off, or in the run's last such stretch).
    private long AgeBound()
    {
        long oldest = _lastRefitStep + 1 + (long)Math.Ceiling(Options.MaxForecastAge * TotalSteps / RefitInterval) * RefitInterval;
        return Options.MaxForecastAge < 1 && oldest - 1 < (1 - Options.MaxForecastAge) * TotalSteps ? oldest : long.MaxValue;
    }

    // The next refit once a caller's request (RefitBy, or an expected probe's) is pending, from the one planned without
    // it: the request comes before a later plan, and takes the place of an earlier one that no rule keeps (MaxForecastAge,
    // the first refit that can be checked): a refit whose forecast would stand only until the request's is work the
    // budget need not pay for (the default CPU run refitted at 839 for the budget and at 879 for the probe that ended at 880).
    private long Requested(long planned)
    {
        long request = EarliestRequest;
        if (request == long.MaxValue || _lastRefitStep < 0) return Math.Min(planned, request);
        long keep = AgeBound();
        if (AwaitsFirstCheckable) keep = Math.Min(keep, _firstCheckable);
        return request <= keep ? request : Math.Min(planned, request);
    }

    /// <summary>
    /// Counts work that the caller did for the forecast of the last refit step (a decision made from it, for
    /// example) against <see cref="ForecasterOptions.WallTimeShare"/>: with the adaptive interval the next refit
    /// waits until the budget covers it. <see cref="TrainingMonitor"/> adds its decisions' time this way.
    /// </summary>
    public void AddWork(TimeSpan work)
    {
        if (work <= TimeSpan.Zero) return;
        WallTime += work;
        _lastRefitCost += work;
        if (_lastRefitStep >= 0) PlanNextRefit();
    }

    private void PlanNextRefit()
    {
        if (Options.RefitInterval != null || _budgetStart == null) return;
        var pace = Pace(_lastRefitStep, Clock.GetTimestamp());
        double share = Options.WallTimeShare;
        double spent = WallTime.TotalSeconds + LoopWallTime.TotalSeconds;
        // The steps it takes until the work so far, with the loop work those steps add, is within the share again;
        // none when the loop work alone takes it.
        double room = share * (pace.LoopPerStep + pace.LoopWorkPerStep) - pace.LoopWorkPerStep;
        long next;
        if (room <= 0 || (NextRefitCost is { } cost && !RestCanPay(pace, cost.TotalSeconds)))
        {
            next = long.MaxValue; // the rest of the run cannot pay for another refit
        }
        else
        {
            double wait = (spent - share * pace.Elapsed) / room;
            long stride = Math.Clamp((long)Math.Ceiling(Math.Max(wait, 1) / RefitInterval), 1, 50);
            next = _lastRefitStep + 1 + stride * RefitInterval;
        }
        // The forecast's age is bounded whatever the budget says (MaxForecastAge), until the run's last such stretch.
        next = Math.Min(next, AgeBound());
        // Before the first refit whose forecast can have a hindcast (AskForFirstHindcast) no forecast can be calibrated:
        // the budget's refits wait for that one and pay for later ones instead (the default run refitted at 439 for the
        // budget and at 479 for the hindcast).
        // (Not when that refit would come at or after the run's last step: then the budget refits as before.)
        if (AwaitsFirstCheckable && next < _firstCheckable) next = _firstCheckable;
        // A caller's request (RefitBy, ExpectProbe) comes before the budget's choice, or in its place.
        next = Requested(next);
        // In the background the refit just started is collected at the next refit step, waiting for it if it is still
        // running: that step comes no sooner than the last background fit's time (a fifth more) after this one, at the
        // loop's pace (on a 23-second GPU run TinyGpt's fits took about as long as the 40 steps between refit steps).
        if (_background != null) next = Math.Max(next, BackgroundReady(_lastRefitStep, pace.LoopPerStep));
        // A refit at the last step forecasts nothing that is not already observed.
        _nextRefit = next - 1 >= TotalSteps - 1 ? long.MaxValue : next;
    }

    // Whether the budget can pay for a fit-start search at this refit step (about FitStartSearch.CostInFits fits of
    // the last fit's time on top of the refit) by the end of the run at the loop's pace: a search that the rest of
    // the run could not pay for waits for a later refit. Always true with a fixed interval or in the background.
    private bool SearchAffordable(long step, long now)
    {
        if (Options.RefitInterval != null || Options.Background || Latest == null || _budgetStart == null) return true;
        double search = FitStartSearch.CostInFits * Latest.Fit.WallTime.TotalSeconds;
        double refit = (NextRefitCost ?? _lastRefitCost).TotalSeconds;
        return RestCanPay(Pace(step, now), refit + search);
    }

    // Whether the work so far, the loop work still to come up to the run's last step and `seconds` more stay within the
    // share of the run's wall time at that pace.
    private bool RestCanPay(BudgetPace pace, double seconds) =>
        WallTime.TotalSeconds + LoopWallTime.TotalSeconds + pace.LoopWorkToEnd + seconds <= Options.WallTimeShare * pace.AtEnd;

    // Whether a first refit that can have a hindcast is known and still to come (none has had one yet), before the run's
    // last step: no forecast before it can be calibrated, so the budget waits for it and a request does not replace it.
    private bool AwaitsFirstCheckable => _firstCheckable > 0 && _firstCheckable - 1 < TotalSteps - 1 && Latest is not { Hindcast: not null };

    // What a refit step is expected to cost: the mean of those so far, the first left out (it also compiled the
    // fitting code); null after the first alone, whose cost says little about the next.
    private TimeSpan? NextRefitCost => _refitsBefore == 0 ? null : (_laterRefitCosts + _lastRefitCost) / _refitsBefore;

    // The wall seconds since the first step, the loop's own seconds per step (the work charged here left out), the
    // loop work charged per step (AddLoopWork), what that work will add up to the run's last step, and the wall seconds
    // the run will have taken at its last step at that pace.
    private readonly record struct BudgetPace(double Elapsed, double LoopPerStep, double LoopWorkPerStep, double LoopWorkToEnd, double AtEnd);

    private BudgetPace Pace(long step, long now)
    {
        double elapsed = Clock.GetElapsedTime(_budgetStart!.Value, now).TotalSeconds;
        long steps = Math.Max(1, step - _budgetFirstStep + 1);
        double loopWork = LoopWallTime.TotalSeconds / steps;
        double loopPerStep = Math.Max(Math.Max(elapsed - WallTime.TotalSeconds - LoopWallTime.TotalSeconds, 0) / steps, 1e-9);
        long remaining = Math.Max(0, TotalSteps - 1 - step);
        return new BudgetPace(elapsed, loopPerStep, loopWork, remaining * loopWork, elapsed + remaining * (loopPerStep + loopWork));
    }

    /// <summary>Fits now, on this thread, from everything tracked up to <paramref name="step"/> (e.g. at the end of a run).</summary>
    public Forecast? ForecastNow(long step)
    {
        Collect();
        var inputs = Snapshot(step, searchAllowed: true);
        return inputs == null ? null : Publish(Refit(inputs.Value));
    }

    /// <summary>
    /// Checks the law's extrapolation on the points tracked up to <paramref name="step"/> (see
    /// <see cref="Control.Hindcast"/>), with this forecaster's law, prior and fit options; null when it cannot
    /// be made yet. It fits on this thread.
    /// </summary>
    public Hindcast? Hindcast(long step)
    {
        var inputs = Snapshot(step, searchAllowed: false);
        return inputs == null ? null : RunHindcast(inputs.Value);
    }

    /// <summary>
    /// Whether the run has evidence of its decay response at <paramref name="step"/>: a prior measured on runs
    /// (<see cref="ParameterPrior.IsMeasured"/>), an LR decrease after the peak that at least one refit
    /// interval of observed points followed, or a cooldown probe that has ended by then (its losses are in the fits).
    /// </summary>
    public bool HasDecayEvidence(long step) => DecayEvidence(step, CurrentSchedule).Any;

    // The probes that ended by `step` (those the fits see, as ProbeCurves) and in which the LR decreased.
    private IEnumerable<CooldownProbe> DecayProbes(long step) =>
        _probes.Where(p => ProbeEnded(p, step) && p.LearningRates.Zip(p.LearningRates.Skip(1)).Any(pair => pair.Second < pair.First));

    private static bool ProbeEnded(CooldownProbe probe, long step) => probe.ForkStep + probe.LearningRates.Count - 1 <= step;

    // Whether the run has decay evidence at `step` under `schedule` and, when what it has seen of a decay is shorter than
    // the decay ahead, the longest decay it has seen as multiples of the LR before it (null otherwise): a cooldown probe,
    // or the run's own decay while it is in progress. A measured prior, or a decay of the run's own that has ended (no LR
    // decrease after `step`), covers the decay ahead.
    private (bool Any, double[]? ProbeRamp) DecayEvidence(long step, LearningRateSchedule schedule)
    {
        if (Options.Prior?.IsMeasured == true) return (true, null);
        var rates = schedule.Sample(Math.Min(step + 1, TotalSteps));
        var longest = DecayProbes(step).OrderBy(p => p.LearningRates.Count).ThenBy(p => p.ForkStep).LastOrDefault();
        double atFork = longest == null ? 0 : schedule.GetLearningRate(longest.ForkStep);
        double[]? probeRamp = atFork > 0 ? longest!.LearningRates.Select(r => r / atFork).ToArray() : null;
        if (FirstDecrease(rates, step - RefitInterval) is not { } start) return (longest != null, probeRamp);
        // The run's own decay: once it has ended it is the whole evidence. In progress, the part seen so far is one more
        // probe (it began at `start`): a controller that moved the decay start on TinyGpt's runs was followed by forecasts
        // that took the law's extrapolation of the rest as seen, 0.15–0.2 too optimistic with calibrated bands that missed.
        int now = rates.Length - 1;
        // Whether the LR falls after `now`: read step by step up to the first fall (not a sample of the whole budget).
        bool ahead = false;
        double before = rates[now];
        for (long k = now + 1; k < TotalSteps && !ahead; k++)
        {
            double rate = schedule.GetLearningRate(k);
            ahead = rate < before;
            before = rate;
        }
        if (!ahead || !(rates[start - 1] > 0)) return (true, null);
        var own = rates[start..(now + 1)].Select(r => r / rates[start - 1]).ToArray();
        return (true, probeRamp != null && probeRamp.Length > own.Length ? probeRamp : own);
    }

    // The first step after the peak at which the LR falls, at or before `through` (null when none).
    private static int? FirstDecrease(ReadOnlySpan<double> rates, long through)
    {
        int peak = 0;
        for (int k = 1; k < rates.Length && k <= through; k++)
        {
            if (rates[k] < rates[k - 1] && k > peak) return k;
            if (rates[k] > rates[peak]) peak = k;
        }
        return null;
    }

    private Hindcast? RunHindcast(Inputs inputs, CancellationToken token = default)
    {
        try
        {
            return Control.Hindcast.Run(_law, inputs.Curve, TotalSteps, Options.FitOptions, RefitInterval, Options.MinPoints, Options.Prior, token);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ArithmeticException)
        {
            Log.RefitThrew(_logger, e, inputs.Step);
            return null;
        }
    }

    /// <summary>The cooldown probes recorded so far, oldest first.</summary>
    public IReadOnlyList<CooldownProbe> Probes => _probes;

    /// <summary>
    /// Records a cooldown probe (see <see cref="CooldownProbe"/>); every later refit fits its finite losses
    /// jointly with the run's curve, and the run has decay evidence from then on. With the adaptive interval the
    /// first refit step at or after the probe's last step refits, whatever the work budget says (as
    /// <see cref="RefitBy"/>): a probe is what the forecasts of the decay lack, and the refits planned before it
    /// came may be a fifth of the budget apart.
    /// </summary>
    public void AddProbe(CooldownProbe probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        probe.Validate();
        _probes.Add(probe);
        long last = probe.ForkStep + probe.LearningRates.Count - 1;
        RefitBy(FirstRefitAtOrAfter(Math.Max(last, _lastRefitStep + 1)) - 1);
    }

    /// <summary>Waits for a pending background fit (its result is dropped) and lets the finalizer thread go.</summary>
    public void Dispose() => EndBackgroundRefit();

    // Starts a background refit, the finalizer thread held while it runs; false (refit inline) when background refits
    // were turned off for this loop.
    private bool TryStart(Inputs inputs)
    {
        if (_inlineFromNow) return false;
        var hold = FinalizerGate.Close();
        var refit = new BackgroundRefit(inputs, hold, FollowUpExpected ? new ManualResetEventSlim() : null);
        var timeout = Options.BackgroundReleaseTimeout;
        refit.Task = Task.Run(() =>
        {
            // Nothing here may allocate, and so start a collection, before the finalizer thread is parked; if it does not
            // come (someone else's finalizer runs long), no fit: the training thread logs it and refits inline from then on.
            if (!hold.WaitParked(ParkTimeout))
            {
                _finalizerBusy = true;
                return null;
            }
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var forecast = Refit(inputs);
            var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            // The caller's work on the forecast (SettleFollowUp), here, off the training thread: the caller says what it
            // is at the end of the step that started this refit, or the collection says there is none.
            if (refit.FollowUpSettled is { } settled && settled.Wait(FollowUpWait) && refit.FollowUp is { } work)
            {
                long working = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    work(forecast);
                }
                catch (Exception e)
                {
                    Log.RefitThrew(_logger, e, inputs.Step);
                }
                took += System.Diagnostics.Stopwatch.GetElapsedTime(working);
            }
            Interlocked.Add(ref _backgroundTicks, took.Ticks);
            Interlocked.Exchange(ref _lastBackgroundTicks, took.Ticks);
            // A loop that waits for pending finalizers while the hold is out would wait for ever: a finished refit
            // that is not collected in time lets the finalizer thread go by itself (the refit's collections are that
            // long past then, so no native call they could have caught is still running, short of one that long),
            // and later refits run inline. Armed inside the task, so that nothing of it runs after the collection.
            var timer = new Timer(_ =>
            {
                if (!hold.TryRelease()) return;
                _inlineFromNow = true;
                Log.BackgroundNotCollected(_logger, inputs.Step, timeout.TotalSeconds);
            }, null, timeout, Timeout.InfiniteTimeSpan);
            Volatile.Write(ref refit.ReleaseTimer, timer);
            return forecast;
        });
        _background = refit;
        return true;
    }

    private Forecast? Collect()
    {
        if (_background == null) return null;
        var forecast = EndBackgroundRefit();
        if (_finalizerBusy && !_inlineFromNow)
        {
            _inlineFromNow = true;
            Log.FinalizerThreadBusy(_logger, _lastRefitStep, ParkTimeout.TotalSeconds);
        }
        return Publish(forecast);
    }

    // Ends the background refit in hand, on the training thread between its native calls: says that no more follow-up
    // work comes, waits for it, and lets the finalizer thread go (the finalizers held back run from now on). Its
    // forecast; null when there was none, the fit failed, or it threw (logged).
    private Forecast? EndBackgroundRefit()
    {
        if (_background is not { } refit) return null;
        _background = null;
        refit.FollowUpSettled?.Set();
        Forecast? forecast = null;
        try
        {
            forecast = refit.Task.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Log.RefitThrew(_logger, e, refit.Inputs.Step);
        }
        Volatile.Read(ref refit.ReleaseTimer)?.Dispose();
        refit.Hold.TryRelease();
        return forecast;
    }

    /// <summary>
    /// Says what follow-up work (none when null) the refit now running in the background does on its forecast, off the
    /// training thread, right after the fit (with the finalizer thread still held): <see cref="TrainingMonitor"/> prepares
    /// the decision it will make from that forecast at the next refit step. True when the work was given to the refit;
    /// false when no refit expecting follow-up work is pending or it was settled already (the caller then does the work
    /// itself when the forecast arrives). The work must not change state the training thread reads; its exceptions are
    /// logged.
    /// </summary>
    internal bool SettleFollowUp(Action<Forecast?>? work)
    {
        if (_background is not { FollowUpSettled: { IsSet: false } settled } refit) return false;
        refit.FollowUp = work;
        settled.Set();
        return work != null;
    }

    /// <summary>
    /// Set by <see cref="TrainingMonitor"/> when it gives each background refit follow-up work (<see cref="SettleFollowUp"/>):
    /// the refit then waits after its fit until the caller has said what the work is (at most <see cref="FollowUpWait"/>).
    /// </summary>
    internal bool FollowUpExpected { get; set; }

    private static readonly TimeSpan FollowUpWait = TimeSpan.FromSeconds(5);

    // One refit running in the background: its inputs, its hold on the finalizer thread, the timer its task arms to let
    // that go if the loop does not come back for it, and, when follow-up work is expected, the event that says it has
    // been given (FollowUp is written before FollowUpSettled is set, and read after).
    private sealed class BackgroundRefit(Inputs inputs, FinalizerGate.Hold hold, ManualResetEventSlim? followUpSettled)
    {
        public Inputs Inputs { get; } = inputs;
        public FinalizerGate.Hold Hold { get; } = hold;
        public ManualResetEventSlim? FollowUpSettled { get; } = followUpSettled;
        public Action<Forecast?>? FollowUp;
        public Task<Forecast?> Task = System.Threading.Tasks.Task.FromResult<Forecast?>(null);
        public Timer? ReleaseTimer;
    }

    /// <summary>The first refit step after <paramref name="step"/> as planned now (null when none is): where a refit pending now is collected.</summary>
    public long? NextRefitStepAfter(long step)
    {
        if (_nextRefit == long.MaxValue) return null;
        long from = Math.Max(step + 2, _nextRefit); // step + 1 of the earliest candidate
        long next = (from + RefitInterval - 1) / RefitInterval * RefitInterval - 1;
        return next <= TotalSteps - 1 ? next : null;
    }

    /// <summary>The wall time of the refits that ran in the background, off the training thread (not in <see cref="WallTime"/>), since the run's first step as <see cref="WallTime"/>.</summary>
    public TimeSpan BackgroundWallTime => TimeSpan.FromTicks(Interlocked.Read(ref _backgroundTicks));

    // The wall seconds of the last background fit that finished (null before the first).
    private double? BackgroundFitSeconds
    {
        get
        {
            long ticks = Interlocked.Read(ref _lastBackgroundTicks);
            return ticks > 0 ? TimeSpan.FromTicks(ticks).TotalSeconds : null;
        }
    }

    /// <summary>Whether refits run inline although <see cref="ForecasterOptions.Background"/> asked otherwise (a finished background refit was not collected in time, see <see cref="ForecasterOptions.BackgroundReleaseTimeout"/>, or the finalizer thread never came to be held).</summary>
    public bool BackgroundTurnedOff => _inlineFromNow;

    /// <summary>The state to checkpoint (call from the training thread).</summary>
    public ForecasterState GetState() => new()
    {
        PendingStep = _background?.Inputs.Step ?? -1,
        PendingPoints = _background?.Inputs is { } pending
            ? Enumerable.Range(0, pending.Curve.Count).Select(i => new[] { pending.Curve.Steps[i], pending.Curve.Losses[i], pending.Curve.Weights[i] }).ToList()
            : [],
        PendingWarmStart = _background?.Inputs.WarmStart,
        NextRefit = _nextRefit,
        Probes = [.. _probes],
        ExpectedProbeRefits = [.. _expected],
        LatestParameters = Latest?.Fit.Parameters ?? _restoredWarmStart,
        FitStart = _fitStart,
        FitStartSearchedAt = _fitStartSearchedAt,
        Budget = _budgetStart is { } start
            ? new ForecasterBudgetState
            {
                Elapsed = Clock.GetElapsedTime(start),
                FirstStep = _budgetFirstStep,
                Work = WallTime,
                LoopWork = LoopWallTime,
                BackgroundWork = BackgroundWallTime,
                LastBackgroundRefit = TimeSpan.FromTicks(Interlocked.Read(ref _lastBackgroundTicks)),
                LastRefitStep = _lastRefitStep,
                LastRefitWork = _lastRefitCost,
                RefitsBefore = _refitsBefore,
                LaterRefitWork = _laterRefitCosts,
                FirstCheckable = _firstCheckable,
                RefitBy = _refitBy,
            }
            : _restoredBudget,
    };

    /// <summary>
    /// Restores a checkpointed state: a refit that was pending is started again from its saved inputs, under
    /// <paramref name="schedule"/> (the schedule in force at the checkpoint; the current one when null).
    /// </summary>
    public void LoadState(ForecasterState state, LearningRateSchedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (schedule != null) _schedule = schedule;
        var inForce = _schedule;
        Dispose();
        _restoredWarmStart = state.LatestParameters;
        _nextRefit = state.NextRefit;
        _fitStart = state.FitStart ?? Options.FromStep;
        _fitStartSearchedAt = state.FitStartSearchedAt;
        _probes.Clear();
        _probes.AddRange(state.Probes);
        _expected.Clear();
        _expected.UnionWith(state.ExpectedProbeRefits);
        RestoreBudget(state.Budget);
        if (state.PendingStep < 0) return;
        var curve = new ObservedCurve("run", inForce.SampleWithIntrinsicTime(state.PendingStep + 1),
            state.PendingPoints.Select(p => (int)p[0]).ToList(), state.PendingPoints.Select(p => p[1]).ToList(), state.PendingPoints.Select(p => p[2]).ToList());
        var (evidence, ramp) = DecayEvidence(state.PendingStep, inForce);
        var inputs = new Inputs(state.PendingStep, curve, inForce, state.PendingWarmStart)
        {
            Probes = ProbeCurves(state.PendingStep, inForce),
            DecayEvidence = evidence,
            ProbeRamp = ramp,
            FitStart = _fitStart,
            FitStartSearchedAt = _fitStartSearchedAt,
        };
        if (!(Options.Background && TryStart(inputs))) Publish(Refit(inputs));
    }

    // The checkpoint's work budget, or a fresh one (an older checkpoint has none).
    private void RestoreBudget(ForecasterBudgetState? budget)
    {
        var kept = budget ?? new ForecasterBudgetState();
        _restoredBudget = budget;
        _budgetStart = null;
        _budgetFirstStep = kept.FirstStep;
        WallTime = kept.Work;
        LoopWallTime = kept.LoopWork;
        Interlocked.Exchange(ref _backgroundTicks, kept.BackgroundWork.Ticks);
        Interlocked.Exchange(ref _lastBackgroundTicks, kept.LastBackgroundRefit.Ticks);
        _lastRefitStep = kept.LastRefitStep;
        _lastRefitCost = kept.LastRefitWork;
        _refitsBefore = kept.RefitsBefore;
        _laterRefitCosts = kept.LaterRefitWork;
        _firstCheckable = kept.FirstCheckable;
        _refitBy = kept.RefitBy;
    }

    private Forecast? Publish(Forecast? forecast)
    {
        if (forecast == null) return null;
        Volatile.Write(ref _latest, forecast);
        _fitStart = forecast.FitStartStep;
        _fitStartSearchedAt = forecast.FitStartSearchedAt;
        return forecast;
    }

    private readonly record struct Inputs(long Step, ObservedCurve Curve, LearningRateSchedule Schedule, IReadOnlyList<double>? WarmStart)
    {
        /// <summary>The probes' curves, fitted jointly with <see cref="Curve"/>.</summary>
        public IReadOnlyList<ObservedCurve> Probes { get; init; } = [];

        /// <summary>Whether the run had decay evidence at <see cref="Step"/> (decided on the training thread, like the rest of the inputs).</summary>
        public bool DecayEvidence { get; init; }

        /// <summary>When the decay ahead is longer than any the run has seen: the longest decay seen (a probe, or the run's own so far), its LRs relative to the LR before it.</summary>
        public double[]? ProbeRamp { get; init; }

        /// <summary>The first step of the fit, and the step of the last search for it (as published when the inputs were taken).</summary>
        public long FitStart { get; init; }

        /// <summary>See <see cref="FitStart"/>.</summary>
        public long FitStartSearchedAt { get; init; }

        /// <summary>Whether the work budget lets this refit search for a fit start (decided on the training thread).</summary>
        public bool SearchAllowed { get; init; } = true;
    }

    // The curves of the probes that ended by `step`.
    private List<ObservedCurve> ProbeCurves(long step, LearningRateSchedule schedule) =>
        _probes.Where(p => ProbeEnded(p, step)).Select(p => ProbeCurve(p, schedule)).OfType<ObservedCurve>().ToList();

    // A probe as a curve of its own: the main schedule up to the fork, then the probe's rates; its finite losses.
    private static ObservedCurve? ProbeCurve(CooldownProbe probe, LearningRateSchedule schedule)
    {
        int fork = (int)probe.ForkStep;
        var rates = schedule.Sample(fork).Concat(probe.LearningRates).ToArray();
        var indices = Enumerable.Range(0, probe.Losses.Count).Where(i => double.IsFinite(probe.Losses[i]) && probe.Losses[i] > 0).ToList();
        if (indices.Count == 0) return null;
        return new ObservedCurve($"probe-{fork}", new SampledSchedule(rates), indices.Select(i => fork + i).ToList(), indices.Select(i => probe.Losses[i]).ToList());
    }

    private Inputs? Snapshot(long step, bool searchAllowed)
    {
        var schedule = CurrentSchedule;
        var sampled = schedule.SampleWithIntrinsicTime(step + 1);
        // Points before any learning (intrinsic time 0, e.g. step 0 of a warmup from 0) fit no law.
        var points = _tracker.Points.Where(p => p.Step >= Options.FromStep && p.Step <= step && sampled.IntrinsicTime[(int)p.Step] > 0).ToList();
        if (points.Count < Math.Max(Options.MinPoints, _law.Parameters.Count)) return null;
        var curve = new ObservedCurve("run", sampled, points.Select(p => (int)p.Step).ToList(), points.Select(p => p.Loss).ToList(),
            points.Select(p => (double)p.Count).ToList());
        var (evidence, ramp) = DecayEvidence(step, schedule);
        return new Inputs(step, curve, schedule, Latest?.Fit.Parameters ?? _restoredWarmStart)
        {
            Probes = ProbeCurves(step, schedule),
            DecayEvidence = evidence,
            ProbeRamp = ramp,
            FitStart = _fitStart,
            FitStartSearchedAt = _fitStartSearchedAt,
            SearchAllowed = searchAllowed,
        };
    }

    private Forecast? Refit(Inputs inputs)
    {
        // A refit that runs past the limit is given up: every fit in it checks the token at each evaluation of the law.
        using var limit = new CancellationTokenSource(Options.FitTimeLimit); // Timeout.InfiniteTimeSpan: never
        var token = limit.Token;
        try
        {
            long start = inputs.FitStart, searchedAt = inputs.FitStartSearchedAt;
            var (fit, hindcast) = FitFrom(inputs, start, token);
            if (token.IsCancellationRequested)
            {
                Log.RefitTimedOut(_logger, inputs.Step, Options.FitTimeLimit.TotalSeconds);
                return null;
            }
            if (fit == null) return null;
            // The law did not follow the recent past from this start: look for the start it extrapolates best from
            // (at most once per half again as many steps, so a run the law cannot follow at all pays little, and only
            // when the work budget can pay for it).
            long t = inputs.Step + 1;
            if (Options.ChooseFitStart && inputs.SearchAllowed && hindcast != null && !hindcast.Passes(Options.CalibrationTolerance) && t >= 1.5 * searchedAt)
            {
                searchedAt = t;
                var choice = FitStartSearch.Choose(ProblemFor(inputs, [inputs.Curve]), Options.FromStep, Options.FitOptions, Options.MinPoints, cancellationToken: token);
                if (choice is { Found: true } && choice.Step != start && !token.IsCancellationRequested)
                {
                    Log.FitStartChosen(_logger, inputs.Step, choice.Step, start);
                    var (moved, movedHindcast) = FitFrom(inputs, choice.Step, token);
                    // A move cut short by the limit keeps the fit from the start in force.
                    if (moved != null && !token.IsCancellationRequested) (start, fit, hindcast) = (choice.Step, moved, movedHindcast);
                }
            }
            var forecast = Build(inputs, fit, hindcast, inputs.DecayEvidence) with { FitStartStep = start, FitStartSearchedAt = searchedAt };
            Log.ForecastUpdated(_logger, inputs.Step, forecast.Describe(), _law.Name, inputs.Curve.Count, fit.WallTime.TotalSeconds);
            return forecast;
        }
        catch (Exception e)
        {
            // Whatever a refit throws (also on a background thread) stays here: the previous forecast stays in force.
            Log.RefitThrew(_logger, e, inputs.Step);
            return null;
        }
    }

    // The problem of a refit: the run's curves, the prior, the previous fit as a warm start.
    private FitProblem ProblemFor(Inputs inputs, IReadOnlyList<ObservedCurve> curves) => new(_law, curves)
    {
        Prior = Options.Prior,
        InitialGuess = inputs.WarmStart,
    };

    // The run's points from `start` on.
    private static ObservedCurve FitCurve(Inputs inputs, long start) =>
        start > inputs.Curve.Steps[0] ? inputs.Curve.Where(step => step >= start) : inputs.Curve;

    // The fit of the run's points from `start` on (with the probes) and its hindcast; a null fit when it failed (logged).
    private (FitResult? Fit, Hindcast? Hindcast) FitFrom(Inputs inputs, long start, CancellationToken token)
    {
        var curve = FitCurve(inputs, start);
        var fit = LawFitter.Fit(ProblemFor(inputs, [curve, .. inputs.Probes]), Options.FitOptions with { RandomStarts = Options.RandomStarts }, token);
        if (!fit.Succeeded)
        {
            if (fit.ExitReason != FitExitReason.Cancelled) Log.RefitFailed(_logger, inputs.Step, fit.ExitReason.ToString(), fit.Message);
            return (null, null);
        }
        return (fit, Options.CalibrateBands ? RunHindcast(inputs with { Curve = curve }, token) : null);
    }

    /// <summary>
    /// The forecast of one fit. Its band combines, per curve point k after the current step t, in quadrature:
    /// before any hindcast, the fit's parameter uncertainty (quantiles over parameter draws); with one, the law's own
    /// extrapolation error on this run instead (fitting and extrapolating over the same horizon ratio, the fit's own
    /// uncertainty included: adding the draws as well made bands of 1.8 nats' median half-width that held 92% of the
    /// final losses on the 3000-step replays, against 0.47 and 84% without them),
    /// σ(k) = 1.25·|e|·ln(k/t)/ln(t_c/t') plus the hindcast's standard error, where e is the hindcast's error,
    /// measured over the later half of (t', t), around t_c = (t' + 3t)/4 (1.25 turns a mean absolute error into a
    /// standard deviation): the hindcast extrapolated over the same ratio as the forecast (t/t' = N/t), so its error per
    /// unit of ln(step) is grown with ln(k/t), and reaches about 1.5·|e| at N. (Before the fifteenth session it grew
    /// linearly in steps, 1.25·(4/3)·|e|·(k − t)/(t − t'), which is 6.7·|e| at N from t = N/4 and 3.3·|e| from N/2:
    /// on 48 GPU TinyGpt runs those bands held 98% / 95% / 92% of the final losses of the forecasts made in 20–50%,
    /// 50–75% and 75–90% of the budget, nominally 80%; see README.) And the predicted gain of the cooldown ahead that the run has no evidence for,
    /// on both sides (the law's guess at it may be too large or too small: without decay evidence it was too small on
    /// TinyGpt's runs, with probes too large or too small). Without decay evidence that is the cooldown's whole gain
    /// over holding the current LR. When the run's decay evidence is cooldown probes, or its own decay while that is in
    /// progress, it is the part beyond what a cooldown shaped like the longest decay seen, started where the planned one
    /// starts (now, when it is under way), is predicted to buy
    /// (<see cref="Forecast.UnseenCooldownGain"/>): a probe of a few percent of the budget shows the first part of a
    /// cooldown's response, and what a cooldown several times as long adds is the law's extrapolation, which overshot
    /// on TinyGpt's runs (a 400-step cooldown's gain forecast at about twice the real one from 80-step probes). So with
    /// probes the forecast is the middle between the two and the band spans both (half of that part on either side, in
    /// quadrature with the rest). (Half the gain,
    /// as before, held the final loss in 58% of the forecasts of twelve 2000-step TinyGpt runs without evidence, the
    /// whole gain in 71%; with one probe, 69% and 89% on four; see README.) Without a hindcast (too early),
    /// with a cooldown ahead that the run has no evidence for, or when the hindcast missed by more than
    /// <see cref="ForecasterOptions.CalibrationTolerance"/> of the drop it spanned, the forecast is not calibrated.
    /// </summary>
    private Forecast Build(Inputs inputs, FitResult fit, Hindcast? hindcast, bool decayEvidence)
    {
        int n = (int)TotalSteps;
        var rates = inputs.Schedule.Sample(n);
        var schedule = FitResult.Normalise(rates, fit.LearningRateScale);
        int first = (int)Math.Min(Math.Max(Options.FromStep, 1), n - 1);
        var steps = Enumerable.Range(0, Options.CurvePoints)
            .Select(i => first + (int)Math.Round((double)(n - 1 - first) * i / (Options.CurvePoints - 1))).Distinct().ToArray();
        // A hindcast measured what fitting and extrapolating over this horizon ratio cost on this run, the parameter
        // uncertainty of the fit included: with one, no parameter draws (they would count it twice).
        var band = fit.PredictWithBandNormalised(schedule, steps, hindcast == null ? Options.BandSamples : 0, Options.BandQuantile, seed: 1);
        var (curve, lower, upper) = (band.Loss, band.Lower, band.Upper);

        double z = MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, 1 - Options.BandQuantile);
        // The drift per unit of ln(step) extrapolated that the hindcast saw (zero without one).
        double driftPerLogStep = hindcast == null ? 0 : HindcastDrift(hindcast);
        double[]? heldCurve = null;
        double seenGain = 0; // the part of the planned decay's gain that the run's evidence covers
        if (!decayEvidence || inputs.ProbeRamp != null)
        {
            // The same run holding its current LR from now on: what the planned decay is predicted to add to it.
            int now = (int)Math.Min(inputs.Step, n - 1);
            var held = rates.ToArray();
            for (int k = now + 1; k < n; k++) held[k] = rates[now];
            heldCurve = TryPredict(fit, FitResult.Normalise(held, fit.LearningRateScale), steps);
            if (inputs.ProbeRamp != null && heldCurve != null)
            {
                if (ProbeShapedGain(fit, rates, now, inputs.ProbeRamp) is { } probeGain) seenGain = probeGain;
                else heldCurve = null; // no decay ahead, or the law cannot evaluate the probe-shaped one
            }
        }
        double unseen = 0; // at the curve point in hand; the last point's is the forecast's
        double t = Math.Max(inputs.Step + 1, 1);
        for (int i = 0; i < steps.Length; i++)
        {
            double parameterSigma = (upper[i] - lower[i]) / (2 * z);
            double modelSigma = hindcast == null || steps[i] + 1 <= t ? 0 : driftPerLogStep * Math.Log((steps[i] + 1) / t) + hindcast.StandardError;
            unseen = heldCurve == null ? 0 : Math.Max(0, heldCurve[i] - curve[i] - seenGain);
            // With probes, the planned cooldown's gain is taken to lie between what the probe-shaped cooldown buys and
            // what the law predicts for the whole one: the forecast is the middle, the band spans both ends. Without
            // evidence the law's guess stays the forecast, the whole gain on either side.
            double shift = decayEvidence ? Forecast.UnseenGainShare * unseen : 0;
            (curve[i], lower[i], upper[i]) = (curve[i] + shift, lower[i] + shift, upper[i] + shift);
            double coolSigma = (unseen - shift) / z;
            double sigma = Math.Sqrt(parameterSigma * parameterSigma + modelSigma * modelSigma + coolSigma * coolSigma);
            // The band always contains the forecast itself and the parameter band; a loss is never negative.
            lower[i] = Math.Max(0, Math.Min(lower[i], curve[i] - z * sigma));
            upper[i] = Math.Max(upper[i], curve[i] + z * sigma);
        }
        // The last step the forecast reaches without a decay it has not seen: the step before the LR first falls below its
        // rate now (a finished run scores its forecasts there when they had no decay evidence, ForecastError.Of).
        int current = (int)Math.Min(inputs.Step, n - 1);
        int fall = current + 1 < n ? Array.FindIndex(rates, current + 1, r => r < rates[current]) : -1;
        int horizon = fall < 0 ? n - 1 : Math.Max(current, fall - 1);
        return new Forecast(inputs.Step, fit, curve[^1], lower[^1], upper[^1], steps, curve, lower, upper)
        {
            SmoothingLag = SmoothingLag(fit, schedule, _tracker.Options.EmaHalfLifeSteps),
            HorizonStep = horizon,
            HorizonLoss = horizon == n - 1 ? curve[^1] : TryPredict(fit, schedule, [horizon])?[0] ?? double.NaN,
            Caveat = hindcast == null ? "cannot forecast yet: no hindcast on this run (too few points before t²/N, or its fit failed)"
                : !hindcast.Passes(Options.CalibrationTolerance)
                    ? FormattableString.Invariant($"cannot forecast: the law missed this run's recent past by {hindcast.Error:+0.000;-0.000;+0.000} on a drop of {hindcast.ObservedDrop:F3}")
                    // A cooldown ahead that the run has no evidence for is a guess from the prior.
                    : !decayEvidence && heldCurve != null && heldCurve[^1] != curve[^1] ? "cannot forecast the cooldown: no LR decrease seen and no measured prior"
                    : null,
            Hindcast = hindcast,
            HasDecayEvidence = decayEvidence,
            SeenDecayShape = decayEvidence ? inputs.ProbeRamp : null,
            UnseenCooldownGain = decayEvidence ? unseen : 0,
        };
    }

    // The hindcast's error per unit of ln(step) extrapolated, as a standard deviation (1.25 turns a mean absolute error
    // into one): it extrapolated from t' over the same ratio as the forecast from t to N (t/t' = N/t), and its error was
    // measured over the later half of (t', t), around (t' + 3t)/4 on average.
    private static double HindcastDrift(Hindcast hindcast)
    {
        double from = hindcast.FittedThrough + 1, center = (hindcast.FittedThrough + 3.0 * hindcast.CheckedThrough) / 4 + 1;
        return center > from ? 1.25 * Math.Abs(hindcast.Error) / Math.Log(center / from) : 0;
    }

    // The gain the fit predicts for a cooldown shaped like a probe (`ramp`: its LRs as multiples of the LR before it)
    // that starts where the planned decay starts (the first step after `now` whose LR falls below the LR at `now`: the
    // next one when a decay is under way),
    // over holding the LR, at the probe's last step (or the run's). Null when no decay is planned after `now` or the law
    // cannot evaluate it.
    private static double? ProbeShapedGain(FitResult fit, double[] rates, int now, double[] ramp)
    {
        double current = rates[now];
        int decayStart = Array.FindIndex(rates, now + 1, r => r < current);
        if (decayStart < 0) return null;
        int length = Math.Min(rates.Length, decayStart + ramp.Length);
        double before = rates[decayStart - 1];
        var hold = rates[..length];
        var probe = rates[..length];
        for (int k = decayStart; k < length; k++)
        {
            hold[k] = before;
            probe[k] = ramp[k - decayStart] * before;
        }
        int[] last = [length - 1];
        var held = TryPredict(fit, FitResult.Normalise(hold, fit.LearningRateScale), last);
        var cooled = TryPredict(fit, FitResult.Normalise(probe, fit.LearningRateScale), last);
        return held == null || cooled == null ? null : Math.Max(0, held[0] - cooled[0]);
    }

    // How far the tracker's smoothed loss at the last step is predicted to lie above the loss there (Forecast.SmoothingLag);
    // 0 when the law cannot evaluate the stretch it averages.
    private static double SmoothingLag(FitResult fit, SampledSchedule schedule, double halfLifeSteps)
    {
        try
        {
            double lag = fit.SmoothingLagNormalised(schedule, halfLifeSteps);
            return double.IsFinite(lag) ? lag : 0;
        }
        catch (Exception e) when (e is ArgumentException or ArithmeticException)
        {
            return 0;
        }
    }

    private static double[]? TryPredict(FitResult fit, SampledSchedule schedule, int[] steps)
    {
        try
        {
            var values = fit.PredictNormalised(schedule, steps);
            return values.All(double.IsFinite) ? values : null;
        }
        catch (Exception e) when (e is ArgumentException or ArithmeticException)
        {
            return null;
        }
    }

    /// <summary>Whether no background refit is running (none pending, or the pending one has finished).</summary>
    internal bool IsPendingDone => _background is not { Task.IsCompleted: false };

    /// <summary>The step whose fit is running in the background (−1 when none).</summary>
    public long PendingStep => _background?.Inputs.Step ?? -1;
}
