using System.Text.Json;
using FslTorch.Schedules;
using FslTorch.Tracking;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace FslTorch.Control;

/// <summary>
/// FslTorch during training, in one callback: it tracks the loss, refits the loss-curve law, moves a WSD decay start
/// to its predicted optimum, and signals forecast-based early stops. Get one from the scheduler and call
/// <see cref="OnStepEnd(long, double)"/> after <c>optimizer.step()</c> and <c>scheduler.step()</c>:
/// <code>
/// var scheduler = new FslScheduler(optimizer, Schedule.Wsd(3e-4, warmupSteps: 100, decayStartStep: 8_000, totalSteps: 10_000));
/// var monitor = scheduler.Monitor();
/// for (long step = 0; step &lt; 10_000; step++)
/// {
///     /* forward, backward */ optimizer.step(); scheduler.step();
///     if (monitor.OnStepEnd(step, loss).HasFlag(TrainingSignal.Stop)) break;   // loss: a double or the loss tensor
/// }
/// monitor.OnRunEnd(step);
/// </code>
/// Decisions flow one way: the controller turns a forecast into a <see cref="DecayDecision"/>, the monitor applies it
/// through the scheduler (which holds the schedule in force), then records it. With decay control asked for
/// (<see cref="TrainingMonitorOptions.DecayControl"/>, the default) the schedule must be a <see cref="WsdSchedule"/>.
/// It never throws into the loop: bad losses and failed fits are counted and logged, an exception from a fit, a
/// decision or the logger is caught at this boundary and logged, and the schedule stays as it was. After
/// <see cref="TrainingMonitorOptions.MaxNonFiniteLosses"/> non-finite losses in a row it signals
/// <see cref="TrainingSignal.Diverged"/> instead of forecasting from old data.
/// </summary>
public sealed class TrainingMonitor : ITrainingCallback, IDisposable
{
    private readonly ILogger _logger;
    private readonly FslScheduler? _scheduler; // holds the schedule in force when the monitor is attached to one
    private LearningRateSchedule _schedule;    // the schedule in force otherwise (replays, tools)
    private int _stopVotes;
    private long _nonFiniteRun;
    private Tensor? _pendingLosses;            // losses given as tensors, gathered on their device until read
    private long _pendingFirstStep;
    private int _pendingCount;
    private readonly List<ForecastRecord> _forecasts = [];
    private PreparedDecision? _prepared;       // the decision a background refit prepares for the step that collects it
    private readonly StepFinalizerHold? _finalizerHold; // with HoldFinalizersDuringSteps

    // A decision made in the background task from the forecast of the refit pending, for the step (Next), the schedule and
    // the decision count expected when it is collected; used only if all three still hold then (Decision is null when
    // the fit failed or the work did not run).
    private sealed record PreparedDecision(long Next, WsdSchedule Schedule, int Decisions)
    {
        public volatile DecayDecision? Decision;
    }

    /// <summary>A monitor of a run that is not driven by an <see cref="FslScheduler"/> (a replay of a logged run, a tool): it holds the schedule in force itself.</summary>
    /// <param name="schedule">The run's schedule; with decay control, a <see cref="WsdSchedule"/> whose decay start the monitor moves.</param>
    /// <param name="totalSteps">N, the budget.</param>
    /// <param name="options">Options; the library defaults when null.</param>
    /// <param name="logger">Where forecasts, decisions and failures go.</param>
    /// <exception cref="ArgumentException">Decay control is asked for but the schedule is not a WSD schedule, or the options are invalid.</exception>
    public TrainingMonitor(LearningRateSchedule schedule, long totalSteps, TrainingMonitorOptions? options = null, ILogger? logger = null)
        : this(schedule, null, totalSteps, options, logger)
    {
    }

    private TrainingMonitor(LearningRateSchedule schedule, FslScheduler? scheduler, long totalSteps, TrainingMonitorOptions? options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        Options = options ?? new TrainingMonitorOptions();
        Options.Validate();
        _logger = SafeLogger.Wrap(logger);
        _scheduler = scheduler;
        _schedule = schedule;
        TotalSteps = totalSteps;
        if (Options.DecayControl != null)
        {
            var wsd = schedule as WsdSchedule ?? throw new ArgumentException(
                $"Decay control moves the start of a WSD cooldown, and this run's schedule is a {schedule.GetType().Name}: use a WsdSchedule " +
                "(Schedule.Wsd, Schedule.GetWsdSchedule), or set TrainingMonitorOptions.DecayControl = null to forecast without control.", nameof(schedule));
            if (wsd.TotalSteps != totalSteps) throw new ArgumentException($"The WSD schedule's budget ({wsd.TotalSteps} steps) differs from totalSteps ({totalSteps}).", nameof(totalSteps));
            Controller = new WsdDecayController(wsd, Options.DecayControl, _logger);
        }
        Tracker = new LossTracker(Options.Tracker);
        Forecaster = new Forecaster(schedule, totalSteps, Tracker, Options.Forecaster, _logger);
        Forecaster.FollowUpExpected = PreparesDecisions;
        if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && Controller == null)
        {
            throw new ArgumentException("Target early stopping starts a cooldown: it needs a WsdSchedule and DecayControl options.", nameof(options));
        }
        if (Options.HoldFinalizersDuringSteps) _finalizerHold = new StepFinalizerHold();
    }

    /// <summary>
    /// A monitor whose decisions go through <paramref name="scheduler"/>, which holds the schedule in force (a moved
    /// decay start is applied to the optimizer at once). <see cref="FslScheduler.Monitor(TrainingMonitorOptions?, ILogger?)"/> is the short form.
    /// </summary>
    public static TrainingMonitor For(FslScheduler scheduler, long totalSteps, TrainingMonitorOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return new TrainingMonitor(scheduler.Schedule, scheduler, totalSteps, options, logger);
    }

    /// <summary>The options.</summary>
    public TrainingMonitorOptions Options { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>The loss tracker.</summary>
    public LossTracker Tracker { get; }
    /// <summary>The forecaster.</summary>
    public Forecaster Forecaster { get; }
    /// <summary>The decay controller (null when decay control is off).</summary>
    public WsdDecayController? Controller { get; }
    /// <summary>The forecast in force.</summary>
    public Forecast? LatestForecast => Forecaster.Latest;
    /// <summary>Every forecast made so far, in order (kept in the checkpoint): what a sweep scores a finished run's forecasts by (<see cref="ForecastError.Of"/>).</summary>
    public IReadOnlyList<ForecastRecord> Forecasts => _forecasts;
    /// <summary>Why the run was asked to stop (null when it was not).</summary>
    public string? StopReason { get; private set; }
    /// <summary>The schedule in force (the scheduler's when the monitor is attached to one).</summary>
    public LearningRateSchedule Schedule => _scheduler?.Schedule ?? _schedule;

    /// <inheritdoc />
    public TrainingSignal OnStepEnd(long step, double learningRate, double loss)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var forecasterBefore = Forecaster.WallTime;
        try
        {
            _finalizerHold?.AtStepEnd();
            return Record(step, learningRate, loss);
        }
        finally
        {
            Charge(started, forecasterBefore);
        }
    }

    /// <summary>
    /// After step <paramref name="step"/> with its loss: the LR of the step comes from the schedule in force (call
    /// it after <c>scheduler.step()</c>, or before; the step's rate is the same).
    /// </summary>
    public TrainingSignal OnStepEnd(long step, double loss) => OnStepEnd(step, LearningRateAt(step), loss);

    /// <summary>
    /// After step <paramref name="step"/> with its loss as a tensor (a scalar on any device), without a device sync
    /// per step: the losses are gathered on their device and read every
    /// <see cref="TrainingMonitorOptions.LossReadInterval"/> steps and at every refit step (one copy each), then
    /// tracked in order as <see cref="OnStepEnd(long, double)"/> would; the decisions are the same. The tensor is
    /// not kept (it may be disposed after the call). Returns the signals of the steps read at this call.
    /// </summary>
    public TrainingSignal OnStepEnd(long step, Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var forecasterBefore = Forecaster.WallTime;
        try
        {
            _finalizerHold?.AtStepEnd();
            int interval = Options.LossReadInterval;
            if (_pendingLosses is null || _pendingLosses.device.ToString() != loss.device.ToString())
            {
                FlushLosses();
                _pendingLosses?.Dispose();
                _pendingLosses = torch.zeros(interval, dtype: ScalarType.Float64, device: loss.device).DetachFromDisposeScope();
            }
            if (_pendingCount == 0) _pendingFirstStep = step;
            if (step != _pendingFirstStep + _pendingCount) throw new ArgumentException($"Steps must follow each other: got step {step} after {_pendingFirstStep + _pendingCount - 1}.", nameof(step));
            using (var detached = loss.detach())
            using (var flat = detached.reshape(1))
            using (var slot = _pendingLosses.narrow(0, _pendingCount, 1))
            {
                slot.copy_(flat);
            }
            _pendingCount++;
            return _pendingCount == interval || Forecaster.IsRefitStep(step) || step == TotalSteps - 1 ? FlushLosses() : TrainingSignal.None;
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            Log.MonitorFailed(_logger, e, step);
            return StopReason != null ? TrainingSignal.Stop : TrainingSignal.None;
        }
        finally
        {
            Charge(started, forecasterBefore);
        }
    }

    // Adds a step end's time to WallTime, and the part of it the forecaster did not count as its own (tracking, the
    // finalizer hold) to the forecaster's share as loop work: the share bounds the monitor's whole cost to the loop.
    private void Charge(long started, TimeSpan forecasterBefore)
    {
        var spent = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        WallTime += spent;
        Forecaster.AddLoopWork(spent - (Forecaster.WallTime - forecasterBefore));
    }

    // Reads the gathered tensor losses (one device copy) and tracks them in order.
    private TrainingSignal FlushLosses()
    {
        if (_pendingLosses is null || _pendingCount == 0) return TrainingSignal.None;
        double[] values;
        using (var head = _pendingLosses.narrow(0, 0, _pendingCount))
        using (var host = head.cpu())
        {
            values = host.data<double>().ToArray();
        }
        int count = _pendingCount;
        _pendingCount = 0;
        var signal = TrainingSignal.None;
        for (int i = 0; i < count; i++)
        {
            long step = _pendingFirstStep + i;
            signal |= Record(step, LearningRateAt(step), values[i]);
        }
        return signal;
    }

    private double LearningRateAt(long step) => Schedule.GetLearningRate(step);

    private TrainingSignal Record(long step, double learningRate, double loss)
    {
        try
        {
            Tracker.Record(step, learningRate, loss);
            if (double.IsFinite(loss) && double.IsFinite(learningRate))
            {
                _nonFiniteRun = 0;
            }
            else if (++_nonFiniteRun >= Options.MaxNonFiniteLosses)
            {
                if (_nonFiniteRun == Options.MaxNonFiniteLosses) Log.Diverged(_logger, _nonFiniteRun, step);
                return TrainingSignal.Diverged | (StopReason != null ? TrainingSignal.Stop : TrainingSignal.None);
            }
            return StepEnd(step);
        }
        catch (Exception e)
        {
            // The boundary: nothing FslTorch does after the loss was recorded may reach the user's loop.
            Log.MonitorFailed(_logger, e, step);
            return StopReason != null ? TrainingSignal.Stop : TrainingSignal.None;
        }
    }

    /// <summary>
    /// Records a cooldown probe forked from the run (<see cref="CooldownProbe"/>): the next refits fit it jointly
    /// with the run's curve, and the controller has evidence of the decay response from then on. A bad probe is
    /// refused with an <see cref="ArgumentException"/> before anything changes.
    /// </summary>
    public void AddProbe(CooldownProbe probe) => Forecaster.AddProbe(probe);

    /// <summary>
    /// Says ahead that a cooldown probe of <paramref name="steps"/> steps will fork at <paramref name="forkStep"/> (call it
    /// when the run starts, for every probe it plans): the adaptive refit interval plans the refit that the probe will
    /// bring, and makes no refit of its own shortly before it (see <see cref="Forecaster.ExpectProbe"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="forkStep"/> is negative or <paramref name="steps"/> is below 2.</exception>
    public void ExpectProbe(long forkStep, int steps) => Forecaster.ExpectProbe(forkStep, steps);

    /// <summary>
    /// The wall time spent inside <c>OnStepEnd</c> (tracking, refits, hindcasts, decisions, the finalizer hold): the monitor's
    /// cost to the loop. With the adaptive refit interval all of it counts against <see cref="ForecasterOptions.WallTimeShare"/>
    /// (what the forecaster does not count itself as loop work, <see cref="Forecaster.AddLoopWork"/>); the refits a probe or
    /// the decay controller asks for are not refused by that share.
    /// </summary>
    public TimeSpan WallTime { get; private set; }

    /// <summary>
    /// The part of <see cref="WallTime"/> spent holding the finalizer thread (<see cref="TrainingMonitorOptions.HoldFinalizersDuringSteps"/>;
    /// zero without it): a forced gen-0 collection each time the hold is taken anew.
    /// </summary>
    public TimeSpan FinalizerHoldWallTime => _finalizerHold?.WallTime ?? TimeSpan.Zero;

    private TrainingSignal StepEnd(long step)
    {
        var signal = TrainingSignal.None;
        var forecast = Forecaster.OnStepEnd(step, Schedule);
        if (forecast != null)
        {
            long deciding = System.Diagnostics.Stopwatch.GetTimestamp();
            signal |= TrainingSignal.Forecast;
            _forecasts.Add(ForecastRecord.Of(forecast));
            long next = step + 1;
            // Early stopping decides from calibrated bands only: a forecast that cannot be checked on the run yet does not vote.
            bool calibrated = forecast.Calibrated || !Forecaster.Options.CalibrateBands;
            if (Controller != null && Schedule is WsdSchedule wsd && !Controller.HasStarted(next, wsd))
            {
                long before = wsd.DecayStartStep;
                int decisions = Controller.Decisions.Count;
                try
                {
                    if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && calibrated) TryStartForTarget(next, forecast);
                    if (Schedule is WsdSchedule current && !Controller.HasStarted(next, current))
                    {
                        // The forecast's own hindcast (same points, same law) when calibration made one; otherwise the controller asks for it.
                        Func<Hindcast?> hindcast = Forecaster.Options.CalibrateBands ? () => forecast.Hindcast : () => Forecaster.Hindcast(step);
                        var decision = _prepared is { Decision: { } ready } prepared && prepared.Next == next && ReferenceEquals(prepared.Schedule, current)
                                       && prepared.Decisions == Controller.Decisions.Count
                            ? ready
                            : Controller.Evaluate(next, current, forecast.Fit, next + Forecaster.RefitInterval, hindcast, forecast.HasDecayEvidence,
                                forecast.SeenDecayShape);
                        Apply(decision, next);
                        AskForDecisionRefits(next);
                    }
                }
                catch (Exception e)
                {
                    Log.DecayDecisionFailed(_logger, e, next);
                }
                if (Controller.Decisions.Count != decisions) signal |= TrainingSignal.Decision;
                if (((WsdSchedule)Schedule).DecayStartStep != before) signal |= TrainingSignal.ScheduleChanged;
            }
            if (calibrated) signal |= VoteOnStop(step, forecast);
            // The decisions' time counts against the refits' share of the wall time, like the refit itself.
            Forecaster.AddWork(System.Diagnostics.Stopwatch.GetElapsedTime(deciding));
        }
        if (Forecaster.PendingStep == step) PrepareDecision(step);
        if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && Controller != null && Schedule is WsdSchedule started && Controller.HasStarted(step + 1, started)
            && Tracker.Smoothed <= Options.EarlyStopping.Threshold && StopReason == null)
        {
            Stop(step, $"the smoothed loss {Tracker.Smoothed:F4} reached the target {Options.EarlyStopping.Threshold:F4}");
        }
        return StopReason != null ? signal | TrainingSignal.Stop : signal;
    }

    // With a refit started in the background at this step: the decision the next refit step will make from its forecast,
    // made in the background task too, right after the fit, from what that decision will see (nothing changes the
    // schedule or the decisions between refit steps, and the step is the next planned refit step). The controller only
    // reads its decisions there; the training thread adds one only at a refit step, after collecting the task. Not with
    // Target early stopping (it may start the decay before deciding) or uncalibrated bands (the controller then makes
    // its hindcast from the points tracked up to the collecting step).
    private void PrepareDecision(long step)
    {
        _prepared = null;
        if (!PreparesDecisions || Schedule is not WsdSchedule wsd || Forecaster.NextRefitStepAfter(step) is not { } collecting
            || Controller!.HasStarted(collecting + 1, wsd))
        {
            Forecaster.SettleFollowUp(null);
            return;
        }
        long next = collecting + 1;
        var prepared = new PreparedDecision(next, wsd, Controller.Decisions.Count);
        var controller = Controller;
        long nextDecision = next + Forecaster.RefitInterval;
        if (Forecaster.SettleFollowUp(forecast =>
            {
                if (forecast?.Fit is not { Succeeded: true } fit) return;
                try
                {
                    prepared.Decision = controller.Evaluate(next, wsd, fit, nextDecision, () => forecast.Hindcast, forecast.HasDecayEvidence,
                        forecast.SeenDecayShape);
                }
                catch (Exception e) when (e is ArgumentException or ArithmeticException or InvalidOperationException)
                {
                    // Left to the training thread, which makes the decision itself and logs why it failed.
                }
            }))
        {
            _prepared = prepared;
        }
    }

    private bool PreparesDecisions => Controller != null && Forecaster.Options.Background && Forecaster.Options.CalibrateBands
                                      && Options.EarlyStopping.Mode != EarlyStoppingMode.Target;

    // A controller with decay evidence that has not yet made the decisions it needs to see its forecasts stable asks the
    // forecaster for the missing ones before the planned decay, spaced evenly up to it, while its last forecast says
    // that moving the decay could matter (the planned start predicted to end more than the margin above the best one):
    // a run too fast for the work budget to pay for refits would otherwise reach its planned decay first (TinyGpt's
    // 110-second GPU runs refit every fifth of the budget and made two decisions with evidence; the controller acts on
    // three).
    private void AskForDecisionRefits(long next)
    {
        if (Controller!.Decisions.LastOrDefault() is not { StartNow: false, HasDecayEvidence: true, Candidates.Count: > 0 } last || last.Step != next) return;
        if (Schedule is not WsdSchedule wsd || Controller.HasStarted(next, wsd)) return;
        long planned = Math.Min(wsd.DecayStartStep, Controller.LatestStart);
        double plannedLoss = last.Candidates.MinBy(c => Math.Abs(c.DecayStartStep - planned))!.PredictedFinalLoss;
        if (!(plannedLoss - last.Candidates.Min(c => c.PredictedFinalLoss) > Controller.Options.Margin)) return;
        // Only until the controller has made as many decisions with evidence as it needs for stability: after that the
        // budget alone paces the refits (asking on, to chase a forecast that will not settle or a hindcast record,
        // doubled the monitor's share of the default CPU run, 0.9% to 1.8%, for a 2-point change of the cooldown).
        int withEvidence = Controller.Decisions.Reverse().TakeWhile(d => d.HasDecayEvidence).Count();
        int needed = Controller.Options.StableForecasts - withEvidence;
        if (needed < 1) return;
        long deadline = next + (planned - next) / (needed + 1);
        if (deadline > next) Forecaster.RefitBy(deadline);
    }

    // Applies a decision (the scheduler, or this monitor's own schedule, moves the decay start), then records it:
    // a decision whose move fails is not recorded.
    private void Apply(DecayDecision decision, long next)
    {
        var current = (WsdSchedule)Schedule;
        if (decision.DecayStartStep != current.DecayStartStep)
        {
            if (_scheduler != null) _scheduler.MoveDecayStart(decision.DecayStartStep);
            else _schedule = current.WithDecayStartFrom(decision.DecayStartStep, next);
        }
        Controller!.Commit(decision);
    }

    /// <inheritdoc />
    public TrainingSignal OnEvaluationEnd(long step, double loss)
    {
        try
        {
            Tracker.RecordEvaluation(step, loss);
        }
        catch (Exception e)
        {
            Log.MonitorFailed(_logger, e, step);
        }
        return TrainingSignal.None;
    }

    /// <inheritdoc />
    public void OnRunEnd(long step)
    {
        try
        {
            FlushLosses();
        }
        catch (Exception e)
        {
            Log.MonitorFailed(_logger, e, step);
        }
        Forecaster.Dispose();
        _finalizerHold?.Dispose();
    }

    /// <summary>Waits for a background refit still running, lets the finalizer thread go (<see cref="TrainingMonitorOptions.HoldFinalizersDuringSteps"/>) and frees the gathered losses.</summary>
    public void Dispose()
    {
        Forecaster.Dispose();
        _finalizerHold?.Dispose();
        _pendingLosses?.Dispose();
        _pendingLosses = null;
    }

    /// <summary>
    /// The state to checkpoint, together with the scheduler's (losses given as tensors and not yet read are read
    /// first, so the state holds every step taken).
    /// </summary>
    public TrainingMonitorState GetState()
    {
        FlushLosses();
        return State();
    }

    private TrainingMonitorState State() => new()
    {
        Tracker = Tracker.GetState(),
        Forecaster = Forecaster.GetState(),
        Decisions = Controller?.Decisions.ToList() ?? [],
        StopVotes = _stopVotes,
        NonFiniteRun = _nonFiniteRun,
        Forecasts = _forecasts.ToList(),
    };

    /// <summary>Restores a checkpoint (restore the scheduler, and with it the decay start, first).</summary>
    public void LoadState(TrainingMonitorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        // A background refit still running may be reading the decisions: it ends first (its result is dropped).
        Forecaster.Dispose();
        _prepared = null;
        Tracker.Restore(state.Tracker);
        Controller?.LoadDecisions(state.Decisions);
        _stopVotes = state.StopVotes;
        _nonFiniteRun = state.NonFiniteRun;
        _forecasts.Clear();
        _forecasts.AddRange(state.Forecasts ?? []);
        Forecaster.LoadState(state.Forecaster, Schedule);
    }

    /// <summary>PyTorch's name for <see cref="GetState"/>.</summary>
    public TrainingMonitorState state_dict() => GetState();

    /// <summary>PyTorch's name for <see cref="LoadState"/>.</summary>
    public void load_state_dict(TrainingMonitorState state) => LoadState(state);

    /// <summary>Writes <see cref="GetState"/> as JSON.</summary>
    public void SaveStateFile(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(GetState(), JsonOptions));

    /// <summary>Reads and restores a JSON state written by <see cref="SaveStateFile"/>.</summary>
    public void LoadStateFile(string path) =>
        LoadState(JsonSerializer.Deserialize<TrainingMonitorState>(File.ReadAllText(path), JsonOptions)
                  ?? throw new InvalidDataException($"{path} holds no monitor state."));

    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private void TryStartForTarget(long next, Forecast forecast)
    {
        var current = (WsdSchedule)Schedule;
        double startNow = Controller!.PredictFinalLoss(forecast.Fit, current, Math.Max(next, Controller.EarliestStart));
        // The band's reach above the fit's own prediction, carried over to starting now (also a forecast of the fit).
        double upper = startNow + (forecast.Upper - forecast.FittedFinalLoss);
        if (next >= Controller.EarliestStart && upper <= Options.EarlyStopping.Threshold
            && Controller.StartNow(next, current, startNow, $"starting the cooldown now is forecast to reach the target {Options.EarlyStopping.Threshold:F4} (≤ {upper:F4})") is { } decision)
        {
            Apply(decision, next);
        }
    }

    private TrainingSignal VoteOnStop(long step, Forecast forecast)
    {
        var options = Options.EarlyStopping;
        bool vote;
        string reason;
        switch (options.Mode)
        {
            case EarlyStoppingMode.Abort:
                // The candidates are the fit's own predictions: the band's reach below the fit's carries over to each.
                double best = Controller?.Decisions.LastOrDefault()?.Candidates.Select(c => c.PredictedFinalLoss).DefaultIfEmpty(forecast.FittedFinalLoss).Min() ?? forecast.FittedFinalLoss;
                // A reference run's error at the same point of its budget widens the band (EarlyStoppingOptions.ReferenceErrors).
                double widening = ForecastError.SizeAt(options.ReferenceErrors, (step + 1.0) / TotalSteps);
                double lower = best - (forecast.FittedFinalLoss - forecast.Lower) - widening;
                vote = lower > options.Threshold;
                reason = widening > 0
                    ? $"the best reachable final loss is forecast at {best:F4} (lower band {lower:F4}, widened by the reference run's error {widening:F4}), above the threshold {options.Threshold:F4}"
                    : $"the best reachable final loss is forecast at {best:F4} (lower band {lower:F4}), above the threshold {options.Threshold:F4}";
                break;
            case EarlyStoppingMode.Marginal:
                int i = Enumerable.Range(0, forecast.CurveSteps.Count).FirstOrDefault(k => forecast.CurveSteps[k] >= step, forecast.CurveSteps.Count - 1);
                long remaining = TotalSteps - 1 - step;
                double gainPerThousand = remaining > 0 ? (forecast.Curve[i] - forecast.FinalLoss) / remaining * 1000 : 0;
                vote = gainPerThousand < options.Threshold;
                reason = $"the forecast gain of the remaining steps is {gainPerThousand:F5} nats per 1000 steps, below {options.Threshold:F5}";
                break;
            default:
                return TrainingSignal.None;
        }
        _stopVotes = vote ? _stopVotes + 1 : 0;
        if (_stopVotes >= options.Patience && StopReason == null) Stop(step, reason);
        return TrainingSignal.None;
    }

    private void Stop(long step, string reason)
    {
        StopReason = reason;
        Log.EarlyStop(_logger, step, reason);
    }
}
