using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Xunit;
using Xunit.Abstractions;

namespace FslTorch.Tests.Fitting;

/// <summary>Every fit the fitter accepts can be evaluated far beyond its data; the default law extrapolates to longer budgets.</summary>
public sealed class FitRangeTests(ITestOutputHelper output)
{
    [Fact]
    public void AFitThatCannotBeEvaluatedOverTheExtendedHorizonIsReportedFailed()
    {
        var law = new HorizonLimitedLaw(maxIntrinsicTime: 3 * SyntheticCurves.Steps);
        var curve = SyntheticCurves.Generate(law, [3.0, 2.0, 0.5], "constant", 0, seed: 0);

        var limited = LawFitter.Fit(law, [curve]);
        Assert.False(limited.Succeeded);
        Assert.Equal(FitExitReason.Failed, limited.ExitReason);
        Assert.Contains("cannot be evaluated", limited.Message, StringComparison.Ordinal);

        // The same fit passes when only the fitted horizon itself is asked for.
        var plain = LawFitter.Fit(law, [curve], new FitOptions { EvaluableHorizonFactor = 1 });
        Assert.True(plain.Succeeded, plain.Message);
        Assert.Equal(3.0, plain.Parameters[0], 2);
    }

    [Theory]
    [InlineData(898.0)]
    [InlineData(60.0)]
    public void NearExponentialFslKernelsAreEvaluableAndExact(double gamma)
    {
        // A live run once produced γ ≈ 898, which the kernel used to refuse ("needs more than 2000 modes").
        var law = new FslLaw();
        double[] theta = [1.0, 0.5, 0.4, 0.2, 1.0, 0.002, gamma];
        var schedule = Schedule.Wsd(1.0, 50, 1500, 2000, DecayShape.Linear, DecayTarget.Zero).SampleWithIntrinsicTime(2000);
        int[] steps = [100, 1499, 1510, 1600, 1999];
        var fast = law.Predict(theta, schedule, steps);
        var exact = law.PredictExact(theta, schedule, steps);
        for (int i = 0; i < steps.Length; i++) Assert.Equal(exact[i], fast[i], 8);

        var long10 = Schedule.Wsd(1.0, 50, 15_000, 20_000, DecayShape.Linear, DecayTarget.Zero).SampleWithIntrinsicTime(20_000);
        Assert.All(law.Predict(theta, long10, [19_999]), v => Assert.True(double.IsFinite(v)));
    }

    [Theory]
    [InlineData("fsl", 5e-3)]
    [InlineData("fsl-direct", 1e-3)]
    public void LawsPredictLongerWsdBudgetsOfADirectFslCurve(string name, double bound)
    {
        // The horizon protocol of bench all on a curve the direct FSL generates (warmup points included, as a
        // trainer logs them): fit the constant run and a short 20%-cooldown run, predict longer 20%-cooldown runs.
        var truth = new FslDirectLaw();
        const double peak = 1e-3;
        double[] raw = [2.5, 4.0, 2e-4 / (peak * peak), 300 * peak, 0.5, 2.0, 2e-4 / (peak * peak)];
        const int warmup = 200, longest = 12_000;
        ObservedCurve Run(string run, LearningRateSchedule schedule, int total)
        {
            var sampled = schedule.SampleWithIntrinsicTime(total);
            var steps = Enumerable.Range(0, total).Where(k => k % 50 == 0 || k == total - 1).ToArray();
            return new ObservedCurve(run, sampled, steps, truth.Predict(raw, sampled, steps));
        }
        ObservedCurve Wsd(int total) => Run($"wsd-{total}",
            new WsdSchedule(peak, warmup, WsdSchedule.DecayStartForFraction(total, 0.2), total, DecayShape.Linear, DecayTarget.Zero, peak / 100), total);
        var fit = new[] { Run("constant", Schedule.WithWarmup(Schedule.Constant(peak), warmup, peak / 100), longest), Wsd(3000) };
        var predict = new[] { Wsd(6000), Wsd(12_000) };

        double StrictPredE(FitResult result) => predict.Average(run =>
        {
            long from = WsdSchedule.DecayStartForFraction(3000, 0.2);
            var points = Enumerable.Range(0, run.Count).Where(i => run.Steps[i] >= from).ToArray();
            var predicted = result.Predict(run.Schedule.LearningRates.ToArray(), points.Select(i => run.Steps[i]).ToArray());
            return CurveMetrics.Compute(points.Select(i => run.Losses[i]).ToList(), predicted).PredE;
        });

        var law = LossCurveLaws.Create(name);
        var result = LawFitter.Fit(law, fit);
        Assert.True(result.Succeeded, result.Message);
        double error = StrictPredE(result);
        var withWarmup = LawFitter.Fit(law, fit, new FitOptions { FitWarmup = true });
        double warmupError = withWarmup.Succeeded ? StrictPredE(withWarmup) : double.NaN;
        output.WriteLine($"{name}: strict PredE {error:E3} (warmup points fitted: {warmupError:E3})");
        // Measured: fsl 3.6e-3 (6.3e-3 with the warmup points fitted); the direct form itself 1.5e-4 (5e-6 with the
        // warmup points, which it generated and so describes).
        Assert.True(error < bound, $"strict PredE {error:E3}");
        if (name == "fsl") Assert.True(error < warmupError, "leaving the warmup out should help the practical law");
    }

    [Fact]
    public void TheDefaultLawIsTheDirectFsl() => Assert.IsType<FslDirectLaw>(LossCurveLaws.Default);

    /// <summary>L0 + A·T^(−α), which refuses schedules whose intrinsic time exceeds a limit (in peak-normalised units).</summary>
    private sealed class HorizonLimitedLaw(double maxIntrinsicTime) : LossCurveLaw
    {
        public override string Name => "limited";
        public override string Formula => "L0 + A·T^(−α)";
        public override IReadOnlyList<LawParameter> Parameters { get; } = [new("L0", "floor"), new("A", "amplitude"), new("alpha", "exponent")];
        public override IReadOnlyList<string> DecayResponseParameters => [];
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => [[l0, a, alpha]];

        protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
        {
            var time = schedule.IntrinsicTime;
            double peak = 0;
            foreach (double eta in schedule.LearningRates) peak = Math.Max(peak, eta);
            if (time[steps[^1]] / peak > maxIntrinsicTime) throw new ArgumentOutOfRangeException(nameof(schedule), "beyond this law's range");
            for (int e = 0; e < steps.Length; e++)
            {
                double t = time[steps[e]], power = Math.Pow(t, -p[2]);
                losses[e] = p[0] + p[1] * power;
                if (jacobian.IsEmpty) continue;
                jacobian[e * 3] = 1;
                jacobian[e * 3 + 1] = power;
                jacobian[e * 3 + 2] = -p[1] * Math.Log(t) * power;
            }
        }

        protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            EvaluateCore(p, schedule, steps, losses, Span<double>.Empty);
    }
}
