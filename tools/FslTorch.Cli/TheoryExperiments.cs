using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Theory;

namespace FslTorch.Cli;

/// <summary>
/// The experiments of <c>fsl theory</c> on the SGD simulator (<see cref="SgdSimulation"/>): pure functions from a
/// task and a budget to tables, so that tests and the command share them.
/// </summary>
internal static class TheoryExperiments
{
    /// <summary>The schedules compared, all with the same peak and no warmup (η at step 0 is the peak).</summary>
    public static IReadOnlyList<(string Name, LearningRateSchedule Schedule)> Schedules(double peak, int steps) =>
    [
        ("constant", Schedule.Constant(peak)),
        ("cosine", Schedule.Cosine(peak, 0, steps)),
        ("exponential", Schedule.Exponential(peak, Math.Pow(0.01, 1.0 / steps))),
        ("wsd-0.2", Schedule.Wsd(peak, 0, WsdSchedule.DecayStartForFraction(steps, 0.2), steps)),
        ("8-1-1", Schedule.EightOneOne(peak, steps)),
    ];

    /// <summary>One row of <see cref="Constant"/>: the risk at a step for each LR.</summary>
    public sealed record ConstantCurves(IReadOnlyList<double> LearningRates, IReadOnlyList<int> Steps, IReadOnlyList<double[]> Risk)
    {
        /// <summary>The log-log slope of the risk against intrinsic time η·k over [kFrom, kTo], for each LR.</summary>
        public double[] Slopes(int from, int to) => LearningRates.Select((eta, i) =>
        {
            var points = Enumerable.Range(0, Steps.Count).Where(j => Steps[j] >= from && Steps[j] <= to)
                .Select(j => (X: Math.Log(eta * Steps[j]), Y: Math.Log(Risk[i][j]))).ToList();
            double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
            return points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
        }).ToArray();
    }

    /// <summary>The expected excess risk at constant LRs (each half the one before), at log-spaced steps up to <paramref name="steps"/>.</summary>
    public static ConstantCurves Constant(KernelRegressionTask task, double peak, int steps, int rates = 3)
    {
        var etas = Enumerable.Range(0, rates).Select(i => peak / Math.Pow(2, i)).ToArray();
        var at = LogSteps(steps, 120);
        var risk = etas.Select(eta =>
        {
            var curve = SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(eta, steps).ToArray());
            return at.Select(k => curve[k]).ToArray();
        }).ToList();
        return new ConstantCurves(etas, at, risk);
    }

    /// <summary>A schedule's final expected excess risk.</summary>
    public sealed record ScheduleRisk(string Schedule, double FinalRisk);

    /// <summary>Every schedule of <see cref="Schedules"/> on one task, best first.</summary>
    public static IReadOnlyList<ScheduleRisk> Ranking(KernelRegressionTask task, double peak, int steps) =>
        Schedules(peak, steps).Select(s => new ScheduleRisk(s.Name, SgdSimulation.ExpectedRisk(task, s.Schedule.Sample(steps))[^1]))
            .OrderBy(r => r.FinalRisk).ToList();

    /// <summary>The direct FSL's prediction of one schedule's final excess risk, against the simulator's.</summary>
    public sealed record LawCheck(string Schedule, double TrueRisk, double PredictedRisk)
    {
        /// <summary>(predicted − true) / true, on the excess risk.</summary>
        public double RelativeError => (PredictedRisk - TrueRisk) / TrueRisk;
    }

    /// <summary>
    /// Fits the direct FSL to the population loss (excess risk + σ²/2) of the 8-1-1 schedule's run, at 200
    /// log-spaced steps, and predicts every other schedule's final excess risk: the law checked against its own
    /// theory. Null when the fit fails.
    /// </summary>
    public static (FitResult Fit, IReadOnlyList<LawCheck> Checks)? FslAgainstSimulation(KernelRegressionTask task, double peak, int steps)
    {
        double floor = 0.5 * task.NoiseVariance;
        var schedules = Schedules(peak, steps);
        var fitted = schedules.Single(s => s.Name == "8-1-1");
        var rates = fitted.Schedule.Sample(steps);
        var risk = SgdSimulation.ExpectedRisk(task, rates);
        var at = LogSteps(steps - 1, 200);
        var curve = new ObservedCurve(fitted.Name, new SampledSchedule(rates), at, at.Select(k => risk[k] + floor).ToList());
        var fit = LawFitter.Fit(LossCurveLaws.Create("fsl-direct"), [curve]);
        if (!fit.Succeeded) return null;
        var checks = schedules.Where(s => s.Name != fitted.Name).Select(s =>
        {
            var sampled = s.Schedule.Sample(steps);
            double truth = SgdSimulation.ExpectedRisk(task, sampled)[steps - 1];
            double predicted;
            try
            {
                predicted = fit.Predict(sampled, [steps - 1])[0] - floor;
            }
            catch (ArgumentException)
            {
                predicted = double.NaN; // outside what the fitted law can evaluate
            }
            return new LawCheck(s.Name, truth, predicted);
        }).ToList();
        return (fit, checks);
    }

    /// <summary>About <paramref name="count"/> log-spaced steps in [1, <paramref name="last"/>], distinct, increasing.</summary>
    public static int[] LogSteps(int last, int count) =>
        Enumerable.Range(0, count).Select(i => (int)Math.Round(Math.Pow(last, i / (count - 1.0)))).Distinct().ToArray();
}
