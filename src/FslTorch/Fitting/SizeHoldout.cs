namespace FslTorch.Fitting;

/// <summary>
/// How far a size law extrapolated on the proxies at hand (<see cref="SizeLawFitter.HoldOutLargest"/>): fitted to every
/// size but the largest, the largest size's curves predicted and compared with what they logged. A size law is an
/// extrapolation in model size, and its parameter band cannot show a bias of the law itself (on the live size sweeps it
/// held none of the outcomes); this is the same extrapolation, one size earlier, measured.
/// </summary>
/// <param name="HeldOutSize">The size held out (the largest proxy).</param>
/// <param name="LargestFitted">The largest size the held-out fit used.</param>
/// <param name="FinalError">
/// The error at the held-out curves' ends (nats; positive: too pessimistic): the mean over its curves of the predicted
/// minus the logged loss, each averaged over the last 2% of the curve's points (at least one).
/// </param>
/// <param name="PredE">The held-out curves' whole-curve error: the mean of |predicted − logged| / logged over their points.</param>
/// <param name="Fit">The size-law fit without the held-out size.</param>
public sealed record SizeHoldout(double HeldOutSize, double LargestFitted, double FinalError, double PredE, SizeLawFit Fit)
{
    /// <summary>The windows of 2% of a held-out curve's points that <see cref="TailError"/> averages over: its last fifth.</summary>
    public const int TailWindows = 10;

    private readonly double _tailError;

    /// <summary>
    /// The held-out curves' error over their last fifth (nats): the mean of |predicted − logged| over windows of 2% of
    /// each curve's points (<see cref="TailWindows"/>), each window's error its mean, so that per-step noise averages
    /// out. The final error is the last window's, signed; a prediction that crosses the logged curve near its end can
    /// leave it near 0 by chance (one live size sweep's check erred by 0.0005 at the end, its target by 0.007), where
    /// the last fifth shows how far apart the two curves run. 0 when not measured.
    /// </summary>
    public double TailError
    {
        get => _tailError;
        init => _tailError = value >= 0 && double.IsFinite(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(TailError), value, "TailError must be a finite number >= 0.");
    }

    /// <summary>The size of the check's error that a band carries: the larger of |<see cref="FinalError"/>| and <see cref="TailError"/>.</summary>
    public double ErrorScale => Math.Max(Math.Abs(FinalError), TailError);

    /// <summary>
    /// The extrapolation error expected at <paramref name="size"/> from a fit whose largest size is
    /// <paramref name="largestFitted"/>: <see cref="ErrorScale"/> grown in proportion to the distance in log size
    /// (as a forecast's drift grows with the steps it extrapolates); 0 at or below the largest fitted size.
    /// </summary>
    public double ErrorAt(double size, double largestFitted)
    {
        if (!(size > 0)) throw new ArgumentOutOfRangeException(nameof(size), size, "The size must be > 0.");
        if (!(largestFitted > 0)) throw new ArgumentOutOfRangeException(nameof(largestFitted), largestFitted, "The largest fitted size must be > 0.");
        return size <= largestFitted ? 0 : ErrorScale * Math.Log(size / largestFitted) / Math.Log(HeldOutSize / LargestFitted);
    }

    /// <summary>
    /// The band of <paramref name="prediction"/> (made at <paramref name="size"/> by a fit whose largest size is
    /// <paramref name="largestFitted"/>) from this check instead of the parameter draws, as a forecast with a hindcast
    /// drops its draws: the check measured what fitting the proxies and extrapolating in size cost, the fit's own
    /// uncertainty included, so the band is the prediction ± z·1.25·<see cref="ErrorAt"/> (1.25 turns a mean absolute
    /// error into a standard deviation; z the normal quantile of the band's <see cref="PredictionBand.Quantile"/>),
    /// never below 0. On the live size sweep the parameter band of the joint fit ran from the prediction to 2.6 nats above
    /// it (its draws one-sided and heavy-tailed) and held none of the outcomes.
    /// </summary>
    public PredictionBand Band(PredictionBand prediction, double size, double largestFitted)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        double half = MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, 1 - prediction.Quantile) * 1.25 * ErrorAt(size, largestFitted);
        return prediction with
        {
            Lower = prediction.Loss.Select(loss => Math.Max(0, loss - half)).ToArray(),
            Upper = prediction.Loss.Select(loss => loss + half).ToArray(),
        };
    }
}
