using FslTorch.Schedules;

namespace FslTorch.Tests.Surrogates;

/// <summary>Schedules of every kind the laws meet, with a seeded random element.</summary>
internal static class RandomSchedules
{
    public static IEnumerable<(string Name, SampledSchedule Schedule)> All(int steps, int seed)
    {
        var random = new Random(seed);
        double Peak() => 0.5 + random.NextDouble();
        long warmup = steps / 20;
        yield return ("warmup-constant", Schedule.WithWarmup(Schedule.Constant(Peak()), warmup).SampleWithIntrinsicTime(steps));
        yield return ("warmup-cosine", Schedule.WarmupCosine(Peak(), warmup, steps, DecayTarget.FractionOfPeak(0.1)).SampleWithIntrinsicTime(steps));
        long start = steps / 2 + random.Next(steps / 4);
        yield return ("wsd-linear", Schedule.Wsd(Peak(), warmup, start, steps).SampleWithIntrinsicTime(steps));
        yield return ("wsd-sqrt", Schedule.Wsd(Peak(), warmup, start, steps, DecayShape.OneMinusSqrt, DecayTarget.FractionOfPeak(0.05)).SampleWithIntrinsicTime(steps));
        double peak = Peak();
        var drops = Schedule.MultiStep(peak, [steps / 3 + random.Next(100), 2 * steps / 3 + random.Next(100)], [0.3 + 0.4 * random.NextDouble(), 0.5]);
        yield return ("warmup-drops", Schedule.WithWarmup(drops, warmup).SampleWithIntrinsicTime(steps));
        yield return ("8-1-1", Schedule.EightOneOne(Peak(), steps).SampleWithIntrinsicTime(steps));
    }

    /// <summary>Every <paramref name="every"/>-th step after the warmup, and the last step.</summary>
    public static int[] EvaluationSteps(int steps, int every) =>
        Enumerable.Range(0, steps).Where(k => k >= steps / 20 + 1 && (k % every == 0 || k == steps - 1)).ToArray();
}
