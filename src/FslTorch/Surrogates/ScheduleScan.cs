namespace FslTorch.Surrogates;

/// <summary>Walking a per-step LR array by its changes: only steps where η changes are sources.</summary>
internal static class ScheduleScan
{
    /// <summary>
    /// The last step of the constant stretch that starts at <paramref name="step"/> (η_step = η_{step−1}),
    /// not beyond <paramref name="limit"/>: across it the modes only decay, in one jump.
    /// </summary>
    public static int EndOfConstantStretch(ReadOnlySpan<double> eta, int step, int limit)
    {
        int end = step;
        while (end < limit && eta[end + 1] == eta[end]) end++;
        return end;
    }
}
