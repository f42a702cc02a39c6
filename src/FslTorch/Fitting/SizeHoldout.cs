namespace FslTorch.Fitting;

/// <summary>
/// How far a size law extrapolated on the proxies at hand (<see cref="SizeLawFitter.HoldOutLargest"/>): fitted to every
/// size but the largest, the largest size's curves predicted and compared with what they logged. A size law is an
/// extrapolation in model size, and its parameter band cannot show a bias of the law itself (the live size sweep missed
/// by 0.03 nats with bands that held none of the outcomes); this is the same extrapolation, one size earlier, measured.
/// </summary>
/// <param name="HeldOutSize">The size held out (the largest proxy).</param>
/// <param name="LargestFitted">The largest size the held-out fit used.</param>
/// <param name="FinalError">
/// The error at the held-out curves' ends (nats; positive: too pessimistic): the mean over its curves of the prediction
/// minus the mean logged loss over the last 2% of the curve's points (at least one).
/// </param>
/// <param name="PredE">The held-out curves' whole-curve error: the mean of |predicted − logged| / logged over their points.</param>
/// <param name="Fit">The size-law fit without the held-out size.</param>
public sealed record SizeHoldout(double HeldOutSize, double LargestFitted, double FinalError, double PredE, SizeLawFit Fit)
{
    /// <summary>
    /// The extrapolation error expected at <paramref name="size"/> from a fit whose largest size is
    /// <paramref name="largestFitted"/>: |<see cref="FinalError"/>| grown in proportion to the distance in log size
    /// (as a forecast's drift grows with the steps it extrapolates); 0 at or below the largest fitted size.
    /// </summary>
    public double ErrorAt(double size, double largestFitted)
    {
        if (!(size > 0) || !(largestFitted > 0)) throw new ArgumentOutOfRangeException(nameof(size), "Sizes must be > 0.");
        return size <= largestFitted ? 0 : Math.Abs(FinalError) * Math.Log(size / largestFitted) / Math.Log(HeldOutSize / LargestFitted);
    }

    /// <summary>
    /// <paramref name="band"/> (a prediction at <paramref name="size"/> from a fit whose largest size is
    /// <paramref name="largestFitted"/>) with this extrapolation error added in quadrature, as the forecasts add a
    /// hindcast's: a standard deviation of 1.25·<see cref="ErrorAt"/> (a mean absolute error as a standard deviation),
    /// combined with the band's own half-width read as a normal quantile. The band always holds its prediction.
    /// </summary>
    public PredictionBand Widen(PredictionBand band, double size, double largestFitted)
    {
        ArgumentNullException.ThrowIfNull(band);
        double modelSigma = 1.25 * ErrorAt(size, largestFitted);
        double z = MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, 1 - band.Quantile);
        var lower = new double[band.Loss.Length];
        var upper = new double[band.Loss.Length];
        for (int i = 0; i < band.Loss.Length; i++)
        {
            double parameterSigma = (band.Upper[i] - band.Lower[i]) / (2 * z);
            double half = z * Math.Sqrt(parameterSigma * parameterSigma + modelSigma * modelSigma);
            lower[i] = Math.Max(0, Math.Min(band.Lower[i], band.Loss[i] - half));
            upper[i] = Math.Max(band.Upper[i], band.Loss[i] + half);
        }
        return band with { Lower = lower, Upper = upper };
    }
}
