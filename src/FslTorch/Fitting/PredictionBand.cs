namespace FslTorch.Fitting;

/// <summary>
/// A fit's predicted loss at some steps of a schedule with its band over parameter draws (see
/// <see cref="FitResult.PredictWithBand"/>): at each step the band runs from the <see cref="Quantile"/> to the
/// 1 − <see cref="Quantile"/> quantile of the draws' predictions, widened where needed to hold the prediction itself.
/// </summary>
/// <param name="Steps">The steps predicted.</param>
/// <param name="Loss">The prediction with the fitted parameters, one per step.</param>
/// <param name="Lower">The band's lower edge, one per step (equal to <paramref name="Loss"/> without a band).</param>
/// <param name="Upper">The band's upper edge, one per step (equal to <paramref name="Loss"/> without a band).</param>
/// <param name="Quantile">The band's lower quantile.</param>
/// <param name="Draws">The draws the law could evaluate; fewer than 2 means no band (a fit without covariance, such as one restored from parameters alone).</param>
public sealed record PredictionBand(int[] Steps, double[] Loss, double[] Lower, double[] Upper, double Quantile, int Draws)
{
    /// <summary>Whether the band comes from parameter draws (at least two could be evaluated).</summary>
    public bool HasBand => Draws >= 2;
}
