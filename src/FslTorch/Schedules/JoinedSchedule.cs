namespace FslTorch.Schedules;

/// <summary>
/// Pieces joined at boundaries b_1 &lt; … &lt; b_{m−1}: piece i serves steps [b_i, b_{i+1}) (b_0 = 0,
/// b_m = ∞) and sees the step relative to its start, k − b_i. The last piece serves every later step.
/// </summary>
public sealed class JoinedSchedule : LearningRateSchedule
{
    private readonly LearningRateSchedule[] _pieces;
    private readonly long[] _boundaries;

    /// <param name="pieces">m &gt;= 1 schedules.</param>
    /// <param name="boundaries">m − 1 strictly increasing steps &gt;= 1 where the next piece starts.</param>
    public JoinedSchedule(IReadOnlyList<LearningRateSchedule> pieces, IReadOnlyList<long> boundaries)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(boundaries);
        if (pieces.Count == 0) throw new ArgumentException("pieces must hold at least one schedule.", nameof(pieces));
        if (pieces.Any(p => p is null)) throw new ArgumentException("pieces must not contain null.", nameof(pieces));
        if (boundaries.Count != pieces.Count - 1)
        {
            throw new ArgumentException(
                $"boundaries must hold one step fewer than pieces ({pieces.Count - 1}); got {boundaries.Count}.", nameof(boundaries));
        }
        for (int i = 0; i < boundaries.Count; i++)
        {
            Guard.InRange(boundaries[i], i == 0 ? 1 : boundaries[i - 1] + 1, long.MaxValue, $"{nameof(boundaries)}[{i}]");
        }
        _pieces = pieces.ToArray();
        _boundaries = boundaries.ToArray();
    }

    /// <summary>The pieces, in order.</summary>
    public IReadOnlyList<LearningRateSchedule> Pieces => _pieces;
    /// <summary>The steps where pieces 1..m−1 start.</summary>
    public IReadOnlyList<long> Boundaries => _boundaries;

    /// <inheritdoc />
    protected internal override double Evaluate(long step)
    {
        int piece = 0;
        while (piece < _boundaries.Length && step >= _boundaries[piece]) piece++;
        long start = piece == 0 ? 0 : _boundaries[piece - 1];
        return _pieces[piece].Evaluate(step - start);
    }
}
