using System.Text;
using System.Text.Json;
using FslTorch.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
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
/// <see cref="LoadState(FslSchedulerState)"/> (or <c>state_dict</c>/<c>load_state_dict</c>) after restoring the
/// optimizer. The scheduler holds the schedule in force: schedules are immutable, and a decision to move a WSD
/// decay start replaces it (<see cref="MoveDecayStart"/>, which <see cref="Monitor(TrainingMonitorOptions?, Microsoft.Extensions.Logging.ILogger?)"/>'s
/// monitor calls).
/// </summary>
public sealed class FslScheduler : lr_scheduler.LRScheduler
{
    private readonly Optimizer _optimizer;
    private readonly double[] _groupScales;
    private long _step = -1;

    /// <param name="optimizer">The optimizer whose parameter groups get the rates.</param>
    /// <param name="schedule">The schedule; a <see cref="WsdSchedule"/>'s decay start can be moved during the run.</param>
    /// <param name="scaling">How the schedule's value becomes each group's rate.</param>
    public FslScheduler(Optimizer optimizer, LearningRateSchedule schedule, GroupScaling scaling = GroupScaling.Absolute)
        : base(optimizer ?? throw new ArgumentNullException(nameof(optimizer)))
    {
        _optimizer = optimizer;
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

    /// <summary>The schedule in force (it changes when a decay start is moved).</summary>
    public LearningRateSchedule Schedule { get; private set; }

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
    /// Replaces the WSD schedule in force by one whose decay starts at <paramref name="decayStartStep"/> (a step not
    /// yet taken) and applies the rate of the current step again (it may now be in the decay).
    /// </summary>
    /// <exception cref="InvalidOperationException">The schedule is not a WSD schedule, the step is in the past, or the decay began.</exception>
    public void MoveDecayStart(long decayStartStep)
    {
        var wsd = Schedule as WsdSchedule
            ?? throw new InvalidOperationException($"Only a {nameof(WsdSchedule)} can move its decay start; this scheduler has a {Schedule.GetType().Name}.");
        Schedule = wsd.WithDecayStartFrom(decayStartStep, _step);
        ApplyCurrentStep();
    }

    /// <summary>
    /// Forks a cooldown probe at <see cref="CurrentStep"/> (call it before that step's forward pass): copies the model's
    /// parameters and buffers, the optimizer's state and the default generator's state, trains <paramref name="steps"/>
    /// steps with <paramref name="trainStep"/> (given the step, it runs forward, backward and <c>optimizer.step()</c>, and
    /// returns the loss) while the rate falls linearly from the schedule's value now towards 0 (each group's scaled as
    /// <see cref="Scaling"/> says), then puts the copies back and applies the current step's rate again: the run goes on
    /// as if the probe had not happened. Give the probe to <see cref="TrainingMonitor.AddProbe"/>, whose forecasts then
    /// know what a cooldown buys on this run. For the run to stay bit-identical, <paramref name="trainStep"/> should draw
    /// its batch from the step (the probe sees the batches the run is about to see) and draw nothing from a CUDA
    /// generator, whose state is not kept. The copies are restored even when <paramref name="trainStep"/> throws.
    /// </summary>
    /// <param name="model">The model the optimizer trains.</param>
    /// <param name="steps">The probe's length (at least 2; TinyGpt uses 4% of the budget).</param>
    /// <param name="trainStep">One training step on the batch of the given step; returns its loss.</param>
    /// <exception cref="InvalidOperationException">No step has been taken yet, or the optimizer keeps its state in native
    /// code (not a managed TorchSharp optimizer such as AdamW, Adam or SGD), so it cannot be copied.</exception>
    public CooldownProbe RunCooldownProbe(nn.Module model, int steps, Func<long, double> trainStep)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainStep);
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 2 (a decay needs two rates).");
        if (_step < 1) throw new InvalidOperationException("A cooldown probe forks from a trained state: fork it after the run's first step.");
        var optimizer = _optimizer as OptimizerHelper
            ?? throw new InvalidOperationException($"The optimizer ({_optimizer.GetType().Name}) keeps its state in native code; a probe needs a copy of it (use a managed TorchSharp optimizer such as AdamW).");
        long fork = _step;
        double from = CurrentLearningRate;
        using var optimizerCopy = new MemoryStream();
        using (var writer = new BinaryWriter(optimizerCopy, Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        using var generator = get_rng_state();
        var rates = new double[steps];
        var losses = new double[steps];
        var groups = _optimizer.ParamGroups.ToList();
        // The model's copy last: from here on only the finally block below frees it.
        var modelCopy = Snapshot(model);
        try
        {
            for (int i = 0; i < steps; i++)
            {
                rates[i] = from * (1 - (double)i / steps);
                for (int g = 0; g < groups.Count; g++) groups[g].LearningRate = _groupScales[g] * rates[i];
                losses[i] = trainStep(fork + i);
            }
        }
        finally
        {
            Restore(model, modelCopy);
            optimizerCopy.Position = 0;
            using (var reader = new BinaryReader(optimizerCopy, Encoding.UTF8, leaveOpen: true)) optimizer.load_state_dict(reader);
            set_rng_state(generator);
            ApplyCurrentStep();
        }
        return new CooldownProbe(fork, rates, losses);
    }

    // A copy of every parameter and buffer, on the module's device.
    private static Dictionary<string, Tensor> Snapshot(nn.Module module)
    {
        using var noGrad = no_grad();
        return module.state_dict().ToDictionary(entry => entry.Key, entry => entry.Value.detach().clone().DetachFromDisposeScope());
    }

    // Writes a snapshot back into the module's own tensors and frees it.
    private static void Restore(nn.Module module, Dictionary<string, Tensor> snapshot)
    {
        using (no_grad())
        {
            foreach (var (name, tensor) in module.state_dict()) tensor.copy_(snapshot[name]);
        }
        foreach (var copy in snapshot.Values) copy.Dispose();
    }

    /// <summary>
    /// A monitor of this scheduler's run (the budget is the WSD schedule's N): it forecasts the loss and, with
    /// <see cref="TrainingMonitorOptions.DecayControl"/> (on by default), moves the decay start through this scheduler.
    /// </summary>
    /// <exception cref="ArgumentException">The schedule is not a WSD schedule: use <see cref="Monitor(long, TrainingMonitorOptions?, Microsoft.Extensions.Logging.ILogger?)"/> with the budget.</exception>
    public TrainingMonitor Monitor(TrainingMonitorOptions? options = null, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        Monitor(Schedule is WsdSchedule wsd ? wsd.TotalSteps
            : throw new ArgumentException($"The budget of a {Schedule.GetType().Name} is not known: call Monitor(totalSteps, options)."), options, logger);

    /// <summary>A monitor of this scheduler's run of <paramref name="totalSteps"/> steps (see <see cref="Monitor(TrainingMonitorOptions?, Microsoft.Extensions.Logging.ILogger?)"/>).</summary>
    public TrainingMonitor Monitor(long totalSteps, TrainingMonitorOptions? options = null, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        TrainingMonitor.For(this, totalSteps, options, logger);

    /// <summary>The state to save in a checkpoint.</summary>
    public FslSchedulerState GetState() =>
        new(_step, (Schedule as WsdSchedule)?.DecayStartStep);

    /// <summary>
    /// Restores a state saved by <see cref="GetState"/> from a scheduler over the same schedule (with the decay start
    /// it had reached), and applies that step's rate to the optimizer. Call it after restoring the optimizer's own state.
    /// </summary>
    public void LoadState(FslSchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Step < 0) throw new ArgumentException($"state.Step must be >= 0; got {state.Step}.", nameof(state));
        if (state.DecayStartStep is long decayStart)
        {
            // The state was valid when saved: no rails here.
            var wsd = Schedule as WsdSchedule
                ?? throw new ArgumentException($"The state has a decay start but this scheduler's schedule is a {Schedule.GetType().Name}.", nameof(state));
            if (decayStart != wsd.DecayStartStep) Schedule = wsd.WithDecayStart(decayStart);
        }
        _step = state.Step;
        ApplyCurrentStep();
    }

    /// <summary>PyTorch's name for <see cref="GetState"/>.</summary>
    public FslSchedulerState state_dict() => GetState();

    /// <summary>PyTorch's name for <see cref="LoadState(FslSchedulerState)"/>.</summary>
    public void load_state_dict(FslSchedulerState state) => LoadState(state);

    /// <summary>Writes <see cref="GetState"/> as JSON.</summary>
    public void SaveStateFile(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(GetState()));

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

    // The base class also records the rates for get_last_lr(); re-running its step keeps that in line.
    private void ApplyCurrentStep() => base.step(null);
}
