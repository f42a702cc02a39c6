using System.Diagnostics;
using System.Globalization;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Cli;

/// <summary>
/// <c>fsl bench decision</c>: what one decay decision costs at a large budget. A fit of the default law (with its
/// covariance, so the uncertainty draws run) to a synthetic constant-LR curve; one warm-up decision, then one
/// measured decision at half the budget: bytes allocated on this thread and wall time, beside the size of one
/// budget-length trajectory (rates and intrinsic time, 2 × 8 × N bytes); then the same decision weighed for a seen
/// cooldown probe of 4% of the budget (<see cref="Forecast.SeenDecayShape"/>), and its time as a multiple of the first.
/// </summary>
internal static class DecisionBenchmark
{
    public static int Run(int steps)
    {
        if (steps < 10_000 || steps > ObservedCurve.MaxSteps) throw new ArgumentException($"--steps must lie in [10,000, {ObservedCurve.MaxSteps:N0}]; got {steps}.");
        const double peak = 1e-3;
        var law = LossCurveLaws.Default;
        // The built-in prior's mean (peak-normalised) as the truth, in raw LR units.
        var truth = law.ConvertLearningRateUnit(ParameterPrior.BuiltIn(law).Mean.ToArray(), peak);
        var sampled = Schedule.WithWarmup(Schedule.Constant(peak), 100).SampleWithIntrinsicTime(5000);
        var observed = Enumerable.Range(1, 490).Select(i => 100 + 10 * i - 1).ToArray();
        var curve = new ObservedCurve("synthetic", sampled, observed, law.Predict(truth, sampled, observed));
        var fit = LawFitter.Fit(law, [curve]);
        if (!fit.Succeeded) throw new InvalidOperationException($"The synthetic fit failed: {fit.Message}");

        var plan = new WsdSchedule(peak, steps / 100, steps - steps / 5, steps);
        var controller = new WsdDecayController(plan);
        long next = steps / 2, interval = steps / 50;
        // A linear probe to 0 over 4% of the budget (TinyGpt's default), as the decay a run with probe evidence has seen.
        int probe = steps / 25;
        double[] shape = Enumerable.Range(1, probe).Select(j => 1 - (double)j / probe).ToArray();
        controller.Evaluate(next - interval, plan, fit, next); // warm-up: JIT, kernel quadratures
        controller.Evaluate(next - interval, plan, fit, next, seenDecayShape: shape);
        double trajectory = 2.0 * 8 * steps;
        double? plain = null;
        foreach (var seen in new[] { null, shape })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            var decision = controller.Evaluate(next, plan, fit, next + interval, seenDecayShape: seen);
            double seconds = clock.Elapsed.TotalSeconds;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            plain ??= seconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"N = {steps:N0}: one decision ({decision.Candidates.Count} candidates, {controller.Options.UncertaintySamples} uncertainty draws × 2{(seen == null ? "" : $", weighed for a seen probe of {probe:N0} steps")}) allocated {allocated / 1e6:F1} MB = {allocated / trajectory:F2} budget-length trajectories, in {seconds:F2} s{(seen == null ? "" : $" ({seconds / plain.Value:F2}× the plain decision)")}"));
        }
        return 0;
    }
}
