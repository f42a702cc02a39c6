namespace FslTorch.Schedules;

/// <summary>
/// A <see cref="WsdSchedule"/> whose decay start can be moved while training, so that a controller can
/// start the cooldown at a step chosen from forecasts. A move only ever changes steps not yet taken:
/// <list type="bullet">
/// <item>the new start must be a step not yet taken (≥ the next step), never in the past;</item>
/// <item>once the decay has begun (a step ≥ the current start was taken) the start is frozen.</item>
/// </list>
/// Both are rejected with <see cref="InvalidOperationException"/>, so the rate of a step already taken never
/// changes. Reads are safe from any thread; moves are atomic.
/// </summary>
public sealed class MovableWsdSchedule : LearningRateSchedule
{
    private volatile WsdSchedule _current;

    /// <summary>Starts from <paramref name="initial"/> (its decay start may later move).</summary>
    public MovableWsdSchedule(WsdSchedule initial) =>
        _current = initial ?? throw new ArgumentNullException(nameof(initial));

    /// <summary>The schedule in force now.</summary>
    public WsdSchedule Current => _current;

    /// <summary>The schedule as constructed is identified by everything but the decay start, which is here.</summary>
    public long DecayStartStep => _current.DecayStartStep;

    /// <summary>Whether the decay has begun once <paramref name="nextStep"/> is the first step not yet taken.</summary>
    public bool HasDecayBegun(long nextStep) => nextStep > _current.DecayStartStep;

    /// <summary>
    /// Moves the decay start to <paramref name="decayStartStep"/> when <paramref name="nextStep"/> is the
    /// first step not yet taken (the step whose rate the optimizer will use next).
    /// </summary>
    /// <exception cref="InvalidOperationException">The new start is in the past, or the decay has begun.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The new start is outside [W, N − 1].</exception>
    public void MoveDecayStart(long decayStartStep, long nextStep)
    {
        Guard.NonNegative(nextStep, nameof(nextStep));
        var current = _current;
        if (HasDecayBegun(nextStep))
        {
            throw new InvalidOperationException(
                $"The decay began at step {current.DecayStartStep} and step {nextStep - 1} was already taken; its start is frozen.");
        }
        if (decayStartStep < nextStep)
        {
            throw new InvalidOperationException(
                $"Cannot move the decay start to step {decayStartStep}: steps before {nextStep} were already taken.");
        }
        _current = current.WithDecayStart(decayStartStep);
    }

    /// <summary>Sets the decay start from a checkpoint, without the rails (the state was valid when saved).</summary>
    internal void Restore(long decayStartStep)
    {
        if (decayStartStep != _current.DecayStartStep) _current = _current.WithDecayStart(decayStartStep);
    }

    /// <inheritdoc />
    protected internal override double Evaluate(long step) => _current.Evaluate(step);
}
