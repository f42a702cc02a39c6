using FslTorch.Fitting;

namespace FslTorch.Control;

/// <summary>
/// A forecast of the rest of a run under its current schedule, made from one fit: the predicted loss at the
/// last step with a band from parameter draws, and the predicted curve at a few steps.
/// </summary>
/// <param name="Step">The last step observed when the fit was made.</param>
/// <param name="Fit">The fit.</param>
/// <param name="FinalLoss">
/// The predicted loss at the last step N − 1: the fit's prediction, except that when the decay ahead is longer than any
/// the run has seen (a cooldown probe, or its own decay in progress) it takes half of <see cref="UnseenCooldownGain"/> (see there).
/// </param>
/// <param name="Lower">The band's lower edge (the <see cref="ForecasterOptions.BandQuantile"/> quantile over draws).</param>
/// <param name="Upper">The band's upper edge.</param>
/// <param name="CurveSteps">Steps of the predicted curve.</param>
/// <param name="Curve">The predicted loss at those steps.</param>
/// <param name="CurveLower">The band's lower edge at those steps.</param>
/// <param name="CurveUpper">The band's upper edge at those steps.</param>
public sealed record Forecast(long Step, FitResult Fit, double FinalLoss, double Lower, double Upper,
    IReadOnlyList<int> CurveSteps, IReadOnlyList<double> Curve, IReadOnlyList<double> CurveLower, IReadOnlyList<double> CurveUpper)
{
    /// <summary>
    /// Whether the band is calibrated on this run's own evidence: a <see cref="Hindcast"/> could be made and the law
    /// followed the run over it (<see cref="ForecasterOptions.CalibrationTolerance"/>), and any cooldown ahead is one
    /// the run has evidence for (<see cref="HasDecayEvidence"/>). When false the forecast is "cannot forecast
    /// (yet)", and no early stop is taken from it.
    /// </summary>
    public bool Calibrated => Caveat == null;

    /// <summary>The hindcast made with this forecast (same points, same law), or null when none could be made.</summary>
    public Hindcast? Hindcast { get; init; }

    /// <summary>
    /// Whether the run had evidence of its decay response when this forecast was made: an LR decrease after the
    /// peak that the fit saw, a cooldown probe, or a prior measured on runs (not a built-in default). Without it the
    /// gain of a cooldown ahead is a guess, and the band reaches that far on both sides.
    /// </summary>
    public bool HasDecayEvidence { get; init; }

    /// <summary>
    /// When the decay ahead is longer than any the run has seen (its decay evidence is cooldown probes, or its own decay
    /// while it is in progress): the part of the cooldown's gain at the last step that the fit predicts beyond what a
    /// cooldown shaped like the longest decay seen buys (started where the decay ahead starts, or now when it is under
    /// way), which is the law's extrapolation from a short cooldown to a long one. The real gain is taken to lie between the two: the forecast
    /// (<see cref="FinalLoss"/>, <see cref="Curve"/>) takes half of this part, and the band reaches both ends (the
    /// fit's prediction and the probe-shaped cooldown's). 0 otherwise (a measured prior or a finished decay as evidence, none at all, or nothing unseen).
    /// </summary>
    public double UnseenCooldownGain { get; init; }

    /// <summary>
    /// The decay the run has seen when it is shorter than the decay ahead (its longest cooldown probe, or its own decay so
    /// far), as multiples of the LR before it; null otherwise. <see cref="WsdDecayController"/> weighs every candidate decay
    /// start with it as this forecast weighs the planned one (<see cref="UnseenCooldownGain"/>).
    /// </summary>
    public IReadOnlyList<double>? SeenDecayShape { get; init; }

    /// <summary>The share of <see cref="UnseenCooldownGain"/> that the forecast takes: the middle between its two ends.</summary>
    public const double UnseenGainShare = 0.5;

    /// <summary>The fit's own prediction at the last step: <see cref="FinalLoss"/> without the share of <see cref="UnseenCooldownGain"/> it took.</summary>
    public double FittedFinalLoss => FinalLoss - UnseenGainShare * UnseenCooldownGain;

    /// <summary>
    /// The last step this forecast reaches without a decay of the LR that the run has not gone through: the step before
    /// the schedule's LR first falls below its rate at <see cref="Step"/> (N − 1 when it never does). Up to there the
    /// forecast needs no decay response, so how far it missed there measures the law's extrapolation on this run alone.
    /// </summary>
    public long HorizonStep { get; init; }

    /// <summary>The fit's predicted loss at <see cref="HorizonStep"/> (<see cref="FinalLoss"/> when that is the last step; NaN when the law could not evaluate it).</summary>
    public double HorizonLoss { get; init; } = double.NaN;

    /// <summary>
    /// How far the loss tracker's smoothed loss (<see cref="Tracking.LossTracker.Smoothed"/>, a moving average with
    /// <see cref="Tracking.LossTrackerOptions.EmaHalfLifeSteps"/>) is predicted to stand above the loss itself at the last
    /// step: the fit's predicted curve over the last ten half-lives, averaged as the tracker averages
    /// (<see cref="Tracking.LossTracker.SmoothingLag"/>). A smoothed loss lags a falling curve, most at the end of a cooldown
    /// (at the default half-life of 20 steps, the averages of TinyGpt's 2000-step CPU runs ended 0.003–0.015 nats above a
    /// line through their last 100 losses; the fits' own lags were 0.001–0.009), so a final loss read from it is compared
    /// with <see cref="SmoothedFinalLoss"/>, not with <see cref="FinalLoss"/>. 0 when the law could not evaluate that stretch.
    /// </summary>
    public double SmoothingLag { get; init; }

    /// <summary>
    /// The forecast of the smoothed loss at the last step: <see cref="FinalLoss"/> plus <see cref="SmoothingLag"/> (its band is
    /// the band moved by the same lag).
    /// </summary>
    public double SmoothedFinalLoss => FinalLoss + SmoothingLag;

    /// <summary>The first step of the points the fit used (see <see cref="ForecasterOptions.ChooseFitStart"/>).</summary>
    public long FitStartStep { get; init; }

    /// <summary>The step (+1) of the last search for the fit's start, made at this refit or before (0: none yet).</summary>
    public long FitStartSearchedAt { get; init; }

    /// <summary>Why the forecast is not calibrated ("cannot forecast ..."); null when it is.</summary>
    public string? Caveat { get; init; }

    /// <summary>A short text for logs: the forecast, its band, and why it cannot be trusted when it cannot.</summary>
    public string Describe()
    {
        string text = FormattableString.Invariant($"{FinalLoss:F4} [{Lower:F4}, {Upper:F4}]");
        if (Caveat != null) return FormattableString.Invariant($"{text} ({Caveat})");
        return UnseenCooldownGain >= 5e-4
            ? FormattableString.Invariant($"{text} ({UnseenCooldownGain:F3} of the cooldown's gain lies beyond what the run has seen of one; half of it is forecast)")
            : text;
    }
}
