namespace FslTorch.Schedules;

/// <summary>
/// The sampled trajectories of one WSD schedule with different decay starts, in one pair of arrays: a decision
/// compares dozens of decay starts over the whole budget, and a fresh array per candidate would allocate
/// gigabytes per decision at a million steps. Moving the start from s to s' rewrites only the steps from
/// min(s, s') on. Not thread-safe; each <see cref="Fill"/> invalidates the schedule the previous one returned.
/// </summary>
internal sealed class WsdTrajectoryBuffer
{
    private readonly WsdSchedule _schedule;
    private readonly double _scale;
    private readonly double[] _rates;
    private readonly SampledSchedule _view;
    private long _filledStart;

    /// <param name="schedule">The schedule whose decay start varies.</param>
    /// <param name="learningRateScale">The rates are divided by this (a fit's LR unit).</param>
    public WsdTrajectoryBuffer(WsdSchedule schedule, double learningRateScale)
    {
        _schedule = schedule;
        _scale = learningRateScale;
        _rates = new double[schedule.TotalSteps];
        for (long k = 0; k < _rates.Length; k++) _rates[k] = schedule.Evaluate(k) / learningRateScale;
        _filledStart = schedule.DecayStartStep;
        _view = new SampledSchedule(_rates, ownedByBuffer: true);
    }

    /// <summary>The whole budget's rates (in the fit's unit) with the decay starting at <paramref name="decayStartStep"/>.</summary>
    public SampledSchedule Fill(long decayStartStep)
    {
        if (decayStartStep == _filledStart) return _view;
        var moved = _schedule.WithDecayStart(decayStartStep);
        int from = (int)Math.Min(Math.Min(_filledStart, decayStartStep), _rates.Length);
        for (int k = from; k < _rates.Length; k++) _rates[k] = moved.Evaluate(k) / _scale;
        _view.RewriteFrom(from);
        _filledStart = decayStartStep;
        return _view;
    }
}
