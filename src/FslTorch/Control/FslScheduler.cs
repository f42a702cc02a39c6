using System.Text.Json;
using FslTorch.Schedules;
using TorchSharp;
using static TorchSharp.torch.optim;

namespace FslTorch.Control;

/// <summary>
/// A TorchSharp learning-rate scheduler driven by any FslTorch <see cref="LearningRateSchedule"/>. Use it
/// like TorchSharp's built-in schedulers: constructing it applies the rate of step 0, and
/// <c>scheduler.step()</c> after each <c>optimizer.step()</c> applies the rate of the next step.
/// <code>
/// var optimizer = torch.optim.AdamW(model.parameters(), lr: 3e-4);
/// var scheduler = new FslScheduler(optimizer, Schedule.Wsd(3e-4, warmupSteps: 100, decayStartStep: 800, totalSteps: 1000));
/// for (long k = 0; k &lt; 1000; k++) { /* forward, backward */ optimizer.step(); scheduler.step(); }
/// </code>
/// With several parameter groups, <see cref="GroupScaling"/> says whether each gets the schedule's value
/// (absolute, the default) or its own initial rate times it. Resume with <see cref="GetState"/> and
/// <see cref="LoadState(FslSchedulerState)"/> after restoring the optimizer.
/// </summary>
public sealed class FslScheduler : lr_scheduler.LRScheduler
{
    private readonly double[] _groupScales;
    private long _step = -1;

    /// <param name="optimizer">The optimizer whose parameter groups get the rates.</param>
    /// <param name="schedule">The schedule; a <see cref="MovableWsdSchedule"/> lets a controller move its decay.</param>
    /// <param name="scaling">How the schedule's value becomes each group's rate.</param>
    public FslScheduler(Optimizer optimizer, LearningRateSchedule schedule, GroupScaling scaling = GroupScaling.Absolute)
        : base(optimizer ?? throw new ArgumentNullException(nameof(optimizer)))
    {
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        Scaling = scaling switch
        {
            GroupScaling.Absolute or GroupScaling.Multiplier => scaling,
            _ => throw new ArgumentOutOfRangeException(nameof(scaling), scaling, "scaling must be Absolute or Multiplier."),
        };
        _groupScales = optimizer.ParamGroups
            .Select(group => scaling == GroupScaling.Absolute ? 1.0 : group.InitialLearningRate)
            .ToArray();
        step();
    }

    /// <summary>The schedule.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>How the schedule's value becomes each group's rate.</summary>
    public GroupScaling Scaling { get; }

    /// <summary>The step whose rate is applied now: the next step the optimizer takes.</summary>
    public long CurrentStep => _step;

    /// <summary>The schedule's value at <see cref="CurrentStep"/>.</summary>
    public double CurrentLearningRate => Schedule.GetLearningRate(_step);

    /// <summary>Advances to the next step (or, given <paramref name="epoch"/>, jumps to that step) and applies its rate.</summary>
    public override void step(int? epoch)
    {
        long next = epoch ?? _step + 1;
        if (next < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be a step >= 0.");
        _step = next;
        base.step(epoch);
    }

    /// <summary>
    /// Moves the decay start of a <see cref="MovableWsdSchedule"/> to a step not yet taken and applies the rate
    /// of the current step again (it may now be in the decay).
    /// </summary>
    /// <exception cref="InvalidOperationException">The schedule is not movable, the step is in the past, or the decay began.</exception>
    public void MoveDecayStart(long decayStartStep)
    {
        MovableSchedule.MoveDecayStart(decayStartStep, _step);
        ApplyCurrentStep();
    }

    /// <summary>The state to save in a checkpoint.</summary>
    public FslSchedulerState GetState() =>
        new(_step, (Schedule as MovableWsdSchedule)?.DecayStartStep);

    /// <summary>
    /// Restores a state saved by <see cref="GetState"/> from a scheduler over the same schedule, and applies that
    /// step's rate to the optimizer. Call it after restoring the optimizer's own state.
    /// </summary>
    public void LoadState(FslSchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Step < 0) throw new ArgumentException($"state.Step must be >= 0; got {state.Step}.", nameof(state));
        if (state.DecayStartStep is long decayStart)
        {
            if (Schedule is not MovableWsdSchedule movable)
            {
                throw new ArgumentException("The state has a decay start but this scheduler's schedule is not a MovableWsdSchedule.", nameof(state));
            }
            movable.Restore(decayStart);
        }
        else if (Schedule is MovableWsdSchedule)
        {
            throw new ArgumentException("The state has no decay start but this scheduler's schedule is a MovableWsdSchedule.", nameof(state));
        }
        _step = state.Step;
        ApplyCurrentStep();
    }

    /// <summary>Writes <see cref="GetState"/> as JSON.</summary>
    public void SaveStateFile(string path) => File.WriteAllText(path, JsonSerializer.Serialize(GetState()));

    /// <summary>Reads a JSON state written by <see cref="SaveStateFile"/> and applies it (see <see cref="LoadState(FslSchedulerState)"/>).</summary>
    public void LoadStateFile(string path) =>
        LoadState(JsonSerializer.Deserialize<FslSchedulerState>(File.ReadAllText(path))
                  ?? throw new InvalidDataException($"{path} holds no scheduler state."));

    /// <inheritdoc />
    protected override IEnumerable<double> get_lr()
    {
        double rate = Schedule.GetLearningRate(_step);
        return _groupScales.Select(scale => scale * rate);
    }

    /// <inheritdoc />
    protected override IEnumerable<double> get_closed_form_lr() => get_lr();

    private MovableWsdSchedule MovableSchedule =>
        Schedule as MovableWsdSchedule
        ?? throw new InvalidOperationException($"Only a {nameof(MovableWsdSchedule)} can move its decay start; this scheduler has a {Schedule.GetType().Name}.");

    // The base class also records the rates for get_last_lr(); re-running its step keeps that in line.
    private void ApplyCurrentStep() => base.step(null);
}
