using System.Diagnostics;
using System.Globalization;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Cli;

/// <summary>
/// Times a full-trajectory evaluation of every law (loss at every step, and with the Jacobian) on a
/// warmup + cosine schedule (every step a source) and on a WSD schedule, against the exact O(N²) sum on a
/// shorter run, side by side in one process.
/// </summary>
internal static class SpeedBenchmark
{
    public static int Run(int steps, int repeats)
    {
        var schedules = new (string Name, SampledSchedule Schedule)[]
        {
            ("warmup+cosine", Schedule.WarmupCosine(1.0, steps / 50, steps, DecayTarget.FractionOfPeak(0.1)).SampleWithIntrinsicTime(steps)),
            ("wsd", Schedule.Wsd(1.0, steps / 50, steps * 8 / 10, steps).SampleWithIntrinsicTime(steps)),
        };
        var laws = new (LossCurveLaw Law, double[] Parameters)[]
        {
            (new FslLaw(), [3.0, 0.8, 0.45, 0.15, 2.0, 0.01, 0.7]),
            (new FslDirectLaw(), [3.0, 1.5, 0.02, 50, 0.5, 1.6, 0.8]),
            (new MultiPowerLaw(), [3.0, 0.6, 0.5, 0.35, 0.002, 0.6, 0.6]),
            (new MomentumLaw(), [3.0, 0.6, 0.5, 0.0001]),
        };
        var everyStep = Enumerable.Range(1, steps - 1).ToArray();
        Console.WriteLine($"{steps:N0}-step trajectories, loss at every step; best of {repeats} runs (ms)");
        Console.WriteLine("law          schedule        value    +jacobian");
        foreach (var (law, parameters) in laws)
        {
            foreach (var (name, schedule) in schedules)
            {
                var losses = new double[everyStep.Length];
                var jacobian = new double[everyStep.Length * parameters.Length];
                double value = Best(() => law.Evaluate(parameters, schedule, everyStep, losses, Span<double>.Empty), repeats);
                double withJacobian = Best(() => law.Evaluate(parameters, schedule, everyStep, losses, jacobian), repeats);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{law.Name,-12} {name,-14} {value,8:F1} {withJacobian,10:F1}"));
            }
        }
        // The exact sums are O(N²): time them on a shorter run, scored at 200 points, beside the fast path.
        int shortSteps = Math.Min(steps, 20_000);
        var shortSchedule = Schedule.WarmupCosine(1.0, shortSteps / 50, shortSteps, DecayTarget.FractionOfPeak(0.1)).SampleWithIntrinsicTime(shortSteps);
        var points = Enumerable.Range(1, 200).Select(i => i * (shortSteps - 1) / 200).ToArray();
        Console.WriteLine($"exact O(N²) vs fast on {shortSteps:N0} steps, 200 points (ms):");
        foreach (var (law, parameters) in laws)
        {
            double exact = Best(() => law.PredictExact(parameters, shortSchedule, points), 1);
            double fast = Best(() => law.Predict(parameters, shortSchedule, points), repeats);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{law.Name,-12} exact {exact,9:F1}  fast {fast,7:F2}  ratio {exact / fast,8:F0}x"));
        }
        return 0;
    }

    private static double Best(Action action, int repeats)
    {
        action(); // warm up the JIT
        double best = double.PositiveInfinity;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return best;
    }
}
