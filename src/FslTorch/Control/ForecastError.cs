namespace FslTorch.Control;

/// <summary>
/// How far a forecast that a finished run made at <paramref name="Fraction"/> of its budget was from what the run went
/// on to reach (positive: too pessimistic); see <see cref="Of"/> for where it is measured.
/// </summary>
/// <param name="Fraction">The share of the budget observed when the forecast was made: (step + 1) / N, in (0, 1].</param>
/// <param name="Error">The forecast loss minus the loss reached (nats).</param>
public sealed record ForecastError(double Fraction, double Error)
{
    /// <summary>
    /// The errors of a finished run's forecasts, in order of fraction. A forecast made with evidence of the run's decay
    /// response is scored at the end, against <paramref name="finalLoss"/>. One made without it is scored at its
    /// <see cref="ForecastRecord.HorizonStep"/>, the step before a decay it had not seen, against the run's mean loss
    /// over the last 2% of the budget up to there (from <paramref name="curve"/>): its final loss rested on a guess at
    /// the decay response (the built-in prior's), while up to the horizon it is the law's extrapolation of this run
    /// alone, which is what a later run of the same sweep, given a measured prior, still has to get right. Forecasts
    /// whose value there is not finite, or with no loss of the curve at or before their horizon, are left out.
    /// </summary>
    /// <param name="forecasts">The run's forecasts (<see cref="TrainingMonitor.Forecasts"/>).</param>
    /// <param name="totalSteps">The run's budget N.</param>
    /// <param name="finalLoss">The final loss the run reached, on the scale its monitor forecast.</param>
    /// <param name="curve">The run's losses by step, in order of step (its tracked points, or its logged losses).</param>
    /// <exception cref="ArgumentOutOfRangeException">N is below 1 or the final loss is not finite.</exception>
    public static IReadOnlyList<ForecastError> Of(IEnumerable<ForecastRecord> forecasts, long totalSteps, double finalLoss, IReadOnlyList<(long Step, double Loss)> curve)
    {
        ArgumentNullException.ThrowIfNull(forecasts);
        ArgumentNullException.ThrowIfNull(curve);
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be >= 1.");
        if (!double.IsFinite(finalLoss)) throw new ArgumentOutOfRangeException(nameof(finalLoss), finalLoss, "finalLoss must be finite.");
        long window = Math.Max(1, totalSteps / 50);
        double? ReachedAt(long step)
        {
            var inWindow = curve.Where(p => p.Step <= step && p.Step > step - window && double.IsFinite(p.Loss)).Select(p => p.Loss).ToList();
            if (inWindow.Count > 0) return inWindow.Average();
            var before = curve.LastOrDefault(p => p.Step <= step && double.IsFinite(p.Loss));
            return before == default ? null : before.Loss;
        }
        var errors = new List<ForecastError>();
        foreach (var f in forecasts.Where(f => f.Step >= 0 && f.Step < totalSteps))
        {
            double error;
            if (!f.HasDecayEvidence && f.HorizonStep < totalSteps - 1)
            {
                if (!double.IsFinite(f.HorizonLoss) || ReachedAt(f.HorizonStep) is not double reached) continue;
                error = f.HorizonLoss - reached;
            }
            else
            {
                error = f.FinalLoss - finalLoss;
            }
            if (double.IsFinite(error)) errors.Add(new ForecastError((f.Step + 1.0) / totalSteps, error));
        }
        return errors.OrderBy(e => e.Fraction).ToList();
    }

    /// <summary>
    /// The size of the error that <paramref name="errors"/> (in order of fraction) made around <paramref name="fraction"/>:
    /// the larger |error| of the last forecast at or before it and the first at or after it (the nearest one beyond
    /// either end); 0 when there are none.
    /// </summary>
    public static double SizeAt(IReadOnlyList<ForecastError> errors, double fraction)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0) return 0;
        int after = 0;
        while (after < errors.Count && errors[after].Fraction < fraction) after++;
        if (after == errors.Count) return Math.Abs(errors[^1].Error);
        double size = Math.Abs(errors[after].Error);
        return after > 0 && errors[after].Fraction > fraction ? Math.Max(size, Math.Abs(errors[after - 1].Error)) : size;
    }
}
