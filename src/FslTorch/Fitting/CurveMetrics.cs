namespace FslTorch.Fitting;

/// <summary>
/// Accuracy of a predicted curve against the observed one, as in the Multi-Power Law paper's protocol:
/// R² = 1 − SS_res/SS_tot, MAE = mean|L − L̂|, RMSE = √mean(L − L̂)², PredE = mean(|L − L̂|/L),
/// WorstE = max(|L − L̂|/L). Several runs are averaged metric by metric (<see cref="Average"/>).
/// </summary>
public sealed record CurveMetrics(double R2, double Mae, double Rmse, double PredE, double WorstE, int Points)
{
    /// <summary>The metrics of <paramref name="predicted"/> against <paramref name="observed"/>.</summary>
    public static CurveMetrics Compute(IReadOnlyList<double> observed, IReadOnlyList<double> predicted)
    {
        ArgumentNullException.ThrowIfNull(observed);
        ArgumentNullException.ThrowIfNull(predicted);
        if (observed.Count != predicted.Count) throw new ArgumentException("observed and predicted must have the same length.", nameof(predicted));
        int n = observed.Count;
        if (n == 0) return new CurveMetrics(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double mean = observed.Average();
        double ssRes = 0, ssTot = 0, abs = 0, rel = 0, worst = 0;
        for (int i = 0; i < n; i++)
        {
            double error = observed[i] - predicted[i];
            ssRes += error * error;
            ssTot += (observed[i] - mean) * (observed[i] - mean);
            abs += Math.Abs(error);
            double relative = Math.Abs(error) / observed[i];
            rel += relative;
            worst = Math.Max(worst, relative);
        }
        return new CurveMetrics(ssTot > 0 ? 1 - ssRes / ssTot : double.NaN, abs / n, Math.Sqrt(ssRes / n), rel / n, worst, n);
    }

    /// <summary>The mean of each metric over runs (runs without points are left out).</summary>
    public static CurveMetrics Average(IEnumerable<CurveMetrics> runs)
    {
        var list = runs.Where(m => m.Points > 0).ToList();
        if (list.Count == 0) return new CurveMetrics(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        return new CurveMetrics(list.Average(m => m.R2), list.Average(m => m.Mae), list.Average(m => m.Rmse),
            list.Average(m => m.PredE), list.Average(m => m.WorstE), list.Sum(m => m.Points));
    }
}
