namespace FslTorch.Tracking;

/// <summary>Everything a <see cref="LossTracker"/> needs to resume, as plain data for System.Text.Json.</summary>
public sealed record LossTrackerState
{
    /// <summary>Bin width in steps.</summary>
    public long BinWidth { get; init; }
    /// <summary>Per bin: index, Σstep, Σlr, Σloss, count.</summary>
    public IReadOnlyList<double[]> Bins { get; init; } = [];
    /// <summary>The median window's recent losses, oldest first.</summary>
    public IReadOnlyList<double> Window { get; init; } = [];
    /// <summary>The moving average, NaN before the first loss.</summary>
    public double Ema { get; init; } = double.NaN;
    /// <summary>The last recorded step, −1 before any.</summary>
    public long LastStep { get; init; } = -1;
    /// <summary>Counts of recorded, non-finite and spike losses.</summary>
    public long Recorded { get; init; }
    /// <summary>Non-finite losses seen.</summary>
    public long NonFinite { get; init; }
    /// <summary>Spikes seen.</summary>
    public long Spikes { get; init; }
    /// <summary>Evaluation losses (step, loss).</summary>
    public IReadOnlyList<double[]> Evaluations { get; init; } = [];
}
