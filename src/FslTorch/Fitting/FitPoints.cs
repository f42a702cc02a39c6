using FslTorch.Schedules;

namespace FslTorch.Fitting;

/// <summary>
/// The points a fit sees, every curve's in one vector: each curve without its warmup (unless
/// <see cref="FitOptions.FitWarmup"/>), its schedule divided by the LR unit and merged into blocks where safe
/// (<see cref="LawFitter.BlockMeans"/>), and per point ln L, its weight and the intrinsic time at its step.
/// </summary>
internal sealed record FitPoints((SampledSchedule Schedule, int[] Steps, int Offset)[] Curves, double[] LogObserved, double[] Weights, double[] IntrinsicTimes)
{
    public static FitPoints Of(IReadOnlyList<ObservedCurve> curves, double scale, FitOptions options, Surrogates.LossCurveLaw law)
    {
        var logObserved = new List<double>();
        var weights = new List<double>();
        var intrinsic = new List<double>();
        var sampled = new (SampledSchedule, int[], int)[curves.Count];
        for (int c = 0; c < curves.Count; c++)
        {
            var curve = curves[c] ?? throw new ArgumentException($"curves[{c}] is null.", nameof(curves));
            if (!options.FitWarmup)
            {
                int peak = curve.Schedule.PeakStep;
                curve = curve.Where(step => step >= peak);
            }
            var schedule = new SampledSchedule(LawFitter.BlockMeans(curve.Schedule.LearningRates, scale, options.ScheduleBlockSteps, options.ScheduleBlockSpread ?? law.FitScheduleBlockSpread));
            sampled[c] = (schedule, curve.Steps.ToArray(), logObserved.Count);
            for (int i = 0; i < curve.Count; i++)
            {
                logObserved.Add(Math.Log(curve.Losses[i]));
                weights.Add(curve.Weights[i]);
                intrinsic.Add(schedule.IntrinsicTime[curve.Steps[i]]);
            }
        }
        return new FitPoints(sampled, [.. logObserved], [.. weights], [.. intrinsic]);
    }
}
