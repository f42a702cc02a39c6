using FslTorch.Fitting;

namespace FslTorch.Control;

/// <summary>
/// A forecast of the rest of a run under its current schedule, made from one fit: the predicted loss at the
/// last step with a band from parameter draws, and the predicted curve at a few steps.
/// </summary>
/// <param name="Step">The last step observed when the fit was made.</param>
/// <param name="Fit">The fit.</param>
/// <param name="FinalLoss">The predicted loss at the last step N − 1.</param>
/// <param name="Lower">The band's lower edge (the <see cref="ForecasterOptions.BandQuantile"/> quantile over draws).</param>
/// <param name="Upper">The band's upper edge.</param>
/// <param name="CurveSteps">Steps of the predicted curve.</param>
/// <param name="Curve">The predicted loss at those steps.</param>
/// <param name="CurveLower">The band's lower edge at those steps.</param>
/// <param name="CurveUpper">The band's upper edge at those steps.</param>
public sealed record Forecast(long Step, FitResult Fit, double FinalLoss, double Lower, double Upper,
    IReadOnlyList<int> CurveSteps, IReadOnlyList<double> Curve, IReadOnlyList<double> CurveLower, IReadOnlyList<double> CurveUpper);
