namespace FslTorch.Schedules;

/// <summary>
/// Piecewise-constant drops: η(k) = η_0·Π_{j: m_j ≤ k} f_j for milestones m_1 &lt; m_2 &lt; … and factors
/// f_j. Step m_j is the first to use the reduced rate.
/// </summary>
public sealed class MultiStepSchedule : LearningRateSchedule
{
    private readonly long[] _milestones;
    private readonly double[] _rates;

    /// <param name="initialLearningRate">η_0, &gt;= 0.</param>
    /// <param name="milestones">Strictly increasing steps &gt;= 1 where a factor applies.</param>
    /// <param name="factors">One factor &gt;= 0 per milestone (0.1 divides by ten).</param>
    public MultiStepSchedule(double initialLearningRate, IReadOnlyList<long> milestones, IReadOnlyList<double> factors)
    {
        InitialLearningRate = Guard.NonNegative(initialLearningRate, nameof(initialLearningRate));
        ArgumentNullException.ThrowIfNull(milestones);
        ArgumentNullException.ThrowIfNull(factors);
        if (factors.Count != milestones.Count)
        {
            throw new ArgumentException(
                $"factors must hold one factor per milestone ({milestones.Count}); got {factors.Count}.", nameof(factors));
        }
        _milestones = milestones.ToArray();
        _rates = new double[milestones.Count + 1];
        _rates[0] = initialLearningRate;
        for (int j = 0; j < _milestones.Length; j++)
        {
            Guard.InRange(_milestones[j], j == 0 ? 1 : _milestones[j - 1] + 1, long.MaxValue, $"{nameof(milestones)}[{j}]");
            _rates[j + 1] = _rates[j] * Guard.NonNegative(factors[j], $"{nameof(factors)}[{j}]");
        }
    }

    /// <summary>
    /// The "8-1-1" schedule of Li et al. (NeurIPS 2025, App. B.2, after DeepSeek LLM): η_peak until 80% of
    /// the steps, then ÷√10 at 80% and again at 90%.
    /// </summary>
    /// <param name="peakLearningRate">η_peak, &gt;= 0.</param>
    /// <param name="totalSteps">N, &gt;= 10 so that both drops fall on distinct steps.</param>
    public static MultiStepSchedule EightOneOne(double peakLearningRate, long totalSteps)
    {
        Guard.InRange(totalSteps, 10, long.MaxValue, nameof(totalSteps));
        double factor = 1 / Math.Sqrt(10);
        return new MultiStepSchedule(peakLearningRate, [totalSteps * 8 / 10, totalSteps * 9 / 10], [factor, factor]);
    }

    /// <summary>η_0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>m_j.</summary>
    public IReadOnlyList<long> Milestones => _milestones;

    /// <inheritdoc />
    protected internal override double Evaluate(long step)
    {
        int passed = 0;
        while (passed < _milestones.Length && step >= _milestones[passed]) passed++;
        return _rates[passed];
    }
}
