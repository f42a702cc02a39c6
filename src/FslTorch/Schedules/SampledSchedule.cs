namespace FslTorch.Schedules;

/// <summary>
/// A schedule sampled over N steps: the learning rate η_k of every step k = 0..N−1 and the intrinsic time
/// T(k) = Σ_{i≤k} η_i (inclusive cumulative sum; Li et al., NeurIPS 2025, see docs/fsl-spec.md §1).
/// </summary>
public sealed class SampledSchedule
{
    /// <summary>Wraps per-step learning rates (copied) and computes their intrinsic time.</summary>
    public SampledSchedule(IReadOnlyList<double> learningRates)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        _learningRates = learningRates.ToArray();
        for (int k = 0; k < _learningRates.Length; k++)
        {
            Guard.NonNegative(_learningRates[k], $"{nameof(learningRates)}[{k}]");
        }
        _intrinsicTime = CumulativeSum(_learningRates);
    }

    // Over a buffer owned by a WsdTrajectoryBuffer (no copy): the buffer rewrites the rates from some step on and
    // then calls RewriteFrom, so that many candidate schedules of one budget need no new arrays.
    internal SampledSchedule(double[] learningRates, bool ownedByBuffer)
    {
        _ = ownedByBuffer;
        _learningRates = learningRates;
        _intrinsicTime = CumulativeSum(learningRates);
    }

    // Recomputes the intrinsic time from step `from` on, after the buffer rewrote the rates there.
    internal void RewriteFrom(int from)
    {
        double total = from == 0 ? 0 : _intrinsicTime[from - 1];
        for (int k = from; k < _learningRates.Length; k++)
        {
            total += _learningRates[k];
            _intrinsicTime[k] = total;
        }
    }

    private readonly double[] _learningRates;
    private readonly double[] _intrinsicTime;

    /// <summary>η_k for k = 0..N−1.</summary>
    public ReadOnlySpan<double> LearningRates => _learningRates;

    /// <summary>T(k) = Σ_{i≤k} η_i for k = 0..N−1.</summary>
    public ReadOnlySpan<double> IntrinsicTime => _intrinsicTime;

    /// <summary>The rates without a copy, for evaluation code that needs an array (never modify it).</summary>
    internal double[] LearningRateArray => _learningRates;

    /// <summary>The intrinsic time without a copy (never modify it).</summary>
    internal double[] IntrinsicTimeArray => _intrinsicTime;

    /// <summary>N, the number of steps.</summary>
    public int Count => _learningRates.Length;

    /// <summary>
    /// The first step at which η reaches its largest value over the schedule: the end of the warmup for the
    /// usual warmup-then-decay schedules, 0 for a schedule that starts at its peak.
    /// </summary>
    public int PeakStep
    {
        get
        {
            int peak = 0;
            for (int k = 1; k < _learningRates.Length; k++)
            {
                if (_learningRates[k] > _learningRates[peak]) peak = k;
            }
            return peak;
        }
    }

    /// <summary>Inclusive cumulative sum, accumulated left to right.</summary>
    public static double[] CumulativeSum(ReadOnlySpan<double> values)
    {
        var sums = new double[values.Length];
        double total = 0;
        for (int k = 0; k < sums.Length; k++)
        {
            total += values[k];
            sums[k] = total;
        }
        return sums;
    }
}
