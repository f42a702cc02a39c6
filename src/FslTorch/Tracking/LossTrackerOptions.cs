namespace FslTorch.Tracking;

/// <summary>Options of <see cref="LossTracker"/>; every default is here, validated when a tracker is built.</summary>
public sealed record LossTrackerOptions
{
    /// <summary>Half-life, in steps, of the exponential moving average shown as the smoothed loss.</summary>
    public double EmaHalfLifeSteps { get; init; } = 20;

    /// <summary>Length of the window whose median is the robust reference for spike detection.</summary>
    public int MedianWindow { get; init; } = 31;

    /// <summary>
    /// A finite loss is a spike, counted and left out of fits, when it exceeds the window median by more than
    /// this fraction of the median (0.5: 50% above) and by more than <see cref="SpikeDeviations"/> robust standard
    /// deviations of the window's losses. Spikes are judged only once the window is full.
    /// </summary>
    public double SpikeThreshold { get; init; } = 0.5;

    /// <summary>
    /// How many robust standard deviations (1.4826 × the window's median absolute deviation) above the median a spike must
    /// also lie. Where the per-step loss scatters by less than 2.5% of its level, <see cref="SpikeThreshold"/> decides alone
    /// (TinyGpt's per-step losses scatter by about 6%, so there a spike lies at least 2.2 times the median); where it
    /// scatters widely (small batches, a squared error), a loss 50% above the median is noise, and
    /// leaving such losses out biases the curve low: on single-sample SGD steps of the theory sandbox (B = 1, σ² = 1) the
    /// threshold alone left out 40% of the losses and kept a curve at a fifth of their mean (0.12 against 0.59), and at 8
    /// samples a step 22% (0.43 against 0.53); with this rule 0.2% and 0% (0.577 and 0.5275 against 0.589 and 0.5275).
    /// </summary>
    public double SpikeDeviations { get; init; } = 20;

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
        if (!(SpikeDeviations >= 0) || !double.IsFinite(SpikeDeviations)) throw new ArgumentOutOfRangeException(nameof(SpikeDeviations), SpikeDeviations, "SpikeDeviations must be a finite number >= 0.");
        if (MaxPoints < 16) throw new ArgumentOutOfRangeException(nameof(MaxPoints), MaxPoints, "MaxPoints must be >= 16.");
    }
}
