using System.Text.Json;
using FslTorch.Schedules;
using FslTorch.Tracking;
using Microsoft.Extensions.Logging;

namespace FslTorch.Control;

/// <summary>
/// FslTorch during training, in one callback: it tracks the loss, refits the loss-curve law in the background,
/// moves a WSD decay start to its predicted optimum, and signals forecast-based early stops. Call
/// <see cref="OnStepEnd"/> after <c>optimizer.step()</c> and <c>scheduler.step()</c>:
/// <code>
/// var monitor = TrainingMonitor.For(scheduler, totalSteps);
/// for (long step = 0; step &lt; totalSteps; step++)
/// {
///     double lr = scheduler.CurrentLearningRate;
///     /* forward, backward */ optimizer.step(); scheduler.step();
///     if (monitor.OnStepEnd(step, lr, loss).HasFlag(TrainingSignal.Stop)) break;
/// }
/// monitor.OnRunEnd(step);
/// </code>
/// It never throws into the loop: bad losses and failed fits are counted and logged, an exception from a fit, a
/// decision or the logger is caught at this boundary and logged, and the schedule stays as it was. After
/// <see cref="TrainingMonitorOptions.MaxNonFiniteLosses"/> non-finite losses in a row it signals
/// <see cref="TrainingSignal.Diverged"/> instead of forecasting from old data.
/// </summary>
public sealed class TrainingMonitor : ITrainingCallback, IDisposable
{
    private readonly ILogger _logger;
    private int _stopVotes;
    private long _nonFiniteRun;

    /// <param name="schedule">The run's schedule; a <see cref="MovableWsdSchedule"/> lets the monitor move its decay.</param>
    /// <param name="totalSteps">N, the budget.</param>
    /// <param name="options">Options; the library defaults when null.</param>
    /// <param name="logger">Where forecasts, decisions and failures go.</param>
    /// <param name="moveDecayStart">How a new decay start is applied, given (start, next step); on the schedule by default.</param>
    public TrainingMonitor(LearningRateSchedule schedule, long totalSteps, TrainingMonitorOptions? options = null, ILogger? logger = null,
        Action<long, long>? moveDecayStart = null)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        Options = options ?? new TrainingMonitorOptions();
        Options.Validate();
        _logger = SafeLogger.Wrap(logger);
        TotalSteps = totalSteps;
        Tracker = new LossTracker(Options.Tracker);
        Forecaster = new Forecaster(schedule, totalSteps, Tracker, Options.Forecaster, _logger);
        if (Options.DecayControl != null && schedule is MovableWsdSchedule movable)
        {
            Controller = new WsdDecayController(movable, Options.DecayControl, _logger, moveDecayStart);
        }
        if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && Controller == null)
        {
            throw new ArgumentException("Target early stopping starts a cooldown: it needs a MovableWsdSchedule and DecayControl options.", nameof(options));
        }
    }

    /// <summary>A monitor whose decay moves go through <paramref name="scheduler"/> (so the LR in force is re-applied).</summary>
    public static TrainingMonitor For(FslScheduler scheduler, long totalSteps, TrainingMonitorOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return new TrainingMonitor(scheduler.Schedule, totalSteps, options, logger, (start, _) => scheduler.MoveDecayStart(start));
    }

    /// <summary>The options.</summary>
    public TrainingMonitorOptions Options { get; }
    /// <summary>N.</summary>
    public long TotalSteps { get; }
    /// <summary>The loss tracker.</summary>
    public LossTracker Tracker { get; }
    /// <summary>The forecaster.</summary>
    public Forecaster Forecaster { get; }
    /// <summary>The decay controller (null when the schedule is not movable or control is off).</summary>
    public WsdDecayController? Controller { get; }
    /// <summary>The forecast in force.</summary>
    public Forecast? LatestForecast => Forecaster.Latest;
    /// <summary>Why the run was asked to stop (null when it was not).</summary>
    public string? StopReason { get; private set; }

    /// <inheritdoc />
    public TrainingSignal OnStepEnd(long step, double learningRate, double loss)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
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
        finally
        {
            WallTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
    }

    /// <summary>
    /// Records a cooldown probe forked from the run (<see cref="CooldownProbe"/>): the next refits fit it jointly
    /// with the run's curve, and the controller has evidence of the decay response from then on. A bad probe is
    /// refused with an <see cref="ArgumentException"/> before anything changes.
    /// </summary>
    public void AddProbe(CooldownProbe probe) => Forecaster.AddProbe(probe);

    /// <summary>The wall time spent inside <see cref="OnStepEnd"/> (tracking, refits, hindcasts, decisions): the monitor's cost to the loop.</summary>
    public TimeSpan WallTime { get; private set; }

    private TrainingSignal StepEnd(long step)
    {
        var signal = TrainingSignal.None;
        var forecast = Forecaster.OnStepEnd(step);
        if (forecast != null)
        {
            long next = step + 1;
            // Early stopping decides from calibrated bands only: a forecast that cannot be checked on the run yet does not vote.
            bool calibrated = forecast.Calibrated || !Forecaster.Options.CalibrateBands;
            if (Controller != null && !Controller.HasStarted(next))
            {
                long before = Controller.DecayStartStep;
                if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && calibrated) TryStartForTarget(next, forecast);
                // The forecast's own hindcast (same points, same law) when calibration made one; otherwise the controller asks for it.
                Func<Hindcast?> hindcast = Forecaster.Options.CalibrateBands ? () => forecast.Hindcast : () => Forecaster.Hindcast(step);
                if (!Controller.HasStarted(next)) Controller.Decide(next, forecast.Fit, next + Forecaster.RefitInterval, hindcast, forecast.HasDecayEvidence);
                if (Controller.DecayStartStep != before) signal |= TrainingSignal.ScheduleChanged;
            }
            if (calibrated) signal |= VoteOnStop(step, forecast);
        }
        if (Options.EarlyStopping.Mode == EarlyStoppingMode.Target && Controller != null && Controller.HasStarted(step + 1)
            && Tracker.Smoothed <= Options.EarlyStopping.Threshold && StopReason == null)
        {
            Stop(step, $"the smoothed loss {Tracker.Smoothed:F4} reached the target {Options.EarlyStopping.Threshold:F4}");
        }
        return StopReason != null ? signal | TrainingSignal.Stop : signal;
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
    public void OnRunEnd(long step) => Forecaster.Dispose();

    /// <summary>Waits for a background refit still running.</summary>
    public void Dispose() => Forecaster.Dispose();

    /// <summary>The state to checkpoint, together with the scheduler's.</summary>
    public TrainingMonitorState GetState() => new()
    {
        Tracker = Tracker.GetState(),
        Forecaster = Forecaster.GetState(),
        Decisions = Controller?.Decisions.ToList() ?? [],
        StopVotes = _stopVotes,
        NonFiniteRun = _nonFiniteRun,
    };

    /// <summary>Restores a checkpoint (restore the scheduler, and with it the decay start, first).</summary>
    public void LoadState(TrainingMonitorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Tracker.Restore(state.Tracker);
        Controller?.LoadDecisions(state.Decisions);
        _stopVotes = state.StopVotes;
        _nonFiniteRun = state.NonFiniteRun;
        Forecaster.LoadState(state.Forecaster);
    }

    /// <summary>Writes <see cref="GetState"/> as JSON.</summary>
    public void SaveStateFile(string path) => File.WriteAllText(path, JsonSerializer.Serialize(GetState(), JsonOptions));

    /// <summary>Reads and restores a JSON state written by <see cref="SaveStateFile"/>.</summary>
    public void LoadStateFile(string path) =>
        LoadState(JsonSerializer.Deserialize<TrainingMonitorState>(File.ReadAllText(path), JsonOptions)
                  ?? throw new InvalidDataException($"{path} holds no monitor state."));

    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private void TryStartForTarget(long next, Forecast forecast)
    {
        double startNow = Controller!.PredictFinalLoss(forecast.Fit, Math.Max(next, Controller.EarliestStart));
        double upper = startNow + (forecast.Upper - forecast.FinalLoss);
        if (next >= Controller.EarliestStart && upper <= Options.EarlyStopping.Threshold)
        {
            Controller.StartNow(next, startNow, $"starting the cooldown now is forecast to reach the target {Options.EarlyStopping.Threshold:F4} (≤ {upper:F4})");
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
                double best = Controller?.Decisions.LastOrDefault()?.Candidates.Select(c => c.PredictedFinalLoss).DefaultIfEmpty(forecast.FinalLoss).Min() ?? forecast.FinalLoss;
                double lower = best - (forecast.FinalLoss - forecast.Lower);
                vote = lower > options.Threshold;
                reason = $"the best reachable final loss is forecast at {best:F4} (lower band {lower:F4}), above the threshold {options.Threshold:F4}";
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
