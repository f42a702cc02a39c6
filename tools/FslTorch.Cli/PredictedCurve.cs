using FslTorch.Fitting;

namespace FslTorch.Cli;

/// <summary>
/// A fit's predicted loss at some steps of a schedule, with the 10–90% band over 64 draws of its parameters from
/// their covariance (no band when the fit has none: the bounds equal the curve). What <c>fsl predict</c> writes and
/// <c>fsl plot</c> draws.
/// </summary>
internal sealed record PredictedCurve(int[] Steps, double[] Loss, double[] Lower, double[] Upper, bool HasBand)
{
    /// <summary>Parameter draws behind the band.</summary>
    public const int Draws = 64;

    public static PredictedCurve Of(FitResult fit, double[] rates, int[] steps)
    {
        var curve = fit.Predict(rates, steps, fast: true);
        var draws = fit.DrawParameters(Draws, seed: 1).Select(theta =>
        {
            try
            {
                var values = fit.Predict(rates, steps, theta, fast: true);
                return values.All(double.IsFinite) ? values : null;
            }
            catch (ArgumentException)
            {
                return null; // a draw outside what the law can evaluate
            }
        }).OfType<double[]>().ToList();
        double Quantile(int i, double q)
        {
            if (draws.Count < 2) return curve[i];
            var sorted = draws.Select(d => d[i]).Order().ToArray();
            return sorted[(int)Math.Round(q * (sorted.Length - 1))];
        }
        // The band always holds the curve itself.
        var lower = Enumerable.Range(0, steps.Length).Select(i => Math.Min(curve[i], Quantile(i, 0.1))).ToArray();
        var upper = Enumerable.Range(0, steps.Length).Select(i => Math.Max(curve[i], Quantile(i, 0.9))).ToArray();
        return new PredictedCurve(steps, curve, lower, upper, draws.Count >= 2);
    }

    /// <summary><paramref name="count"/> evenly spaced steps of a run of <paramref name="total"/> steps (from 0 to total − 1).</summary>
    public static int[] EvenSteps(int total, int count, int first = 0) =>
        Enumerable.Range(0, count).Select(i => first + (int)Math.Round((double)(total - 1 - first) * i / (count - 1))).Distinct().ToArray();
}
