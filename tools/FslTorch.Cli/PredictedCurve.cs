using FslTorch.Fitting;

namespace FslTorch.Cli;

/// <summary>
/// The predictions <c>fsl predict</c> writes and <c>fsl plot</c> draws: a fit's loss at some steps of a schedule with
/// the 10–90% band over 64 parameter draws (<see cref="FitResult.PredictWithBand"/>; no band when the fit has no
/// covariance).
/// </summary>
internal static class PredictedCurve
{
    /// <summary>Parameter draws behind the band.</summary>
    public const int Draws = 64;

    public static PredictionBand Of(FitResult fit, double[] rates, int[] steps) => fit.PredictWithBand(rates, steps, Draws, quantile: 0.1);

    /// <summary><paramref name="count"/> evenly spaced steps of a run of <paramref name="total"/> steps (from 0 to total − 1).</summary>
    public static int[] EvenSteps(int total, int count, int first = 0) =>
        Enumerable.Range(0, count).Select(i => first + (int)Math.Round((double)(total - 1 - first) * i / (count - 1))).Distinct().ToArray();
}
