namespace FslTorch.Tracking;

/// <summary>Options of <see cref="LossTracker"/>; every default is here, validated when a tracker is built.</summary>
public sealed record LossTrackerOptions
{
    /// <summary>Half-life, in steps, of the exponential moving average shown as the smoothed loss.</summary>
    public double EmaHalfLifeSteps { get; init; } = 20;

    /// <summary>Length of the window whose median is the robust reference for spike detection.</summary>
    public int MedianWindow { get; init; } = 31;

    /// <summary>
    /// A finite loss is a spike, recorded and left out of fits, when it exceeds the window median by more than
    /// this fraction of the median (0.5: 50% above). Spikes are judged only once the window is full.
    /// </summary>
    public double SpikeThreshold { get; init; } = 0.5;

    /// <summary>
    /// The most points kept for fits: when exceeded, neighbouring bins merge and the bin width doubles, so memory
    /// and fit cost stay bounded on runs of millions of steps.
    /// </summary>
    public int MaxPoints { get; init; } = 2048;

    internal void Validate()
    {
        if (!(EmaHalfLifeSteps > 0) || !double.IsFinite(EmaHalfLifeSteps)) throw new ArgumentOutOfRangeException(nameof(EmaHalfLifeSteps), EmaHalfLifeSteps, "EmaHalfLifeSteps must be a finite number > 0.");
        if (MedianWindow < 3) throw new ArgumentOutOfRangeException(nameof(MedianWindow), MedianWindow, "MedianWindow must be >= 3.");
        if (!(SpikeThreshold > 0) || !double.IsFinite(SpikeThreshold)) throw new ArgumentOutOfRangeException(nameof(SpikeThreshold), SpikeThreshold, "SpikeThreshold must be a finite number > 0.");
        if (MaxPoints < 16) throw new ArgumentOutOfRangeException(nameof(MaxPoints), MaxPoints, "MaxPoints must be >= 16.");
    }
}
