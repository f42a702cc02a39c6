using FslTorch.Fitting;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Fitting;

public sealed class LawFitterTests
{
    private const double Noise = 5e-4;

    // Known parameters in peak-normalised units, so that they read as the fitter reports them.
    public static TheoryData<string> Laws => new() { "fsl", "fsl-direct", "fsl-direct-omega", "mpl", "momentum" };

    internal static (LossCurveLaw Law, double[] Normalised, double[] Raw) Truth(string name)
    {
        const double p = SyntheticCurves.Peak;
        return name switch
        {
            // B and r act on η/peak: raw B' = B/peak; c4 on intrinsic time: raw c4' = c4/peak; c1·T^(−s): raw c1' = c1·peak^s.
            "fsl" => (new FslLaw(), [3.2, 20, 0.5, 0.25, 1.0, 0.004, 0.7], [3.2, 20 * Math.Pow(p, 0.5), 0.5, 0.25 / p, Math.Pow(p, 0.5) * 1.0, 0.004 / p, 0.7]),
            // Direct form: η² sources and t/τ: raw C' = C/peak², D' = D/peak², τ' = τ·peak.
            "fsl-direct" => (new FslDirectLaw(), [3.1, 4.0, 2e-4, 300, 0.5, 2.0, 2e-4], [3.1, 4.0, 2e-4 / (p * p), 300 * p, 0.5, 2.0, 2e-4 / (p * p)]),
            // With the LR's exponent ω free: η^ω sources: raw C' = C/peak^ω, D' = D/peak^ω.
            "fsl-direct-omega" => (new FslDirectLaw(freeNoiseExponent: true), [3.1, 4.0, 2e-4, 300, 0.5, 2.0, 2e-4, 1.6],
                [3.1, 4.0, 2e-4 / Math.Pow(p, 1.6), 300 * p, 0.5, 2.0, 2e-4 / Math.Pow(p, 1.6), 1.6]),
            // MPL: B'·η_raw = B·η → B' = B/peak; C'·η_raw^(−γ)·x_raw = C·η^(−γ)·x → C' = C·peak^(γ−1).
            "mpl" => (new MultiPowerLaw(), [3.1, 20, 0.5, 0.3, 0.05, 0.6, 0.6], [3.1, 20 * Math.Pow(p, 0.5), 0.5, 0.3 / p, 0.05 * Math.Pow(p, 0.6 - 1), 0.6, 0.6]),
            // Momentum: S1 and S2 are linear in η: A' = A·peak^α, C' = C/peak.
            "momentum" => (new MomentumLaw(), [3.1, 20, 0.5, 2e-4], [3.1, 20 * Math.Pow(p, 0.5), 0.5, 2e-4 / p]),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    [Theory]
    [MemberData(nameof(Laws))]
    public void RecoversAKnownCurveFromNoisyObservations(string name)
    {
        var (law, truth, raw) = Truth(name);
        var fitCurves = new[] { "constant", "cosine", "wsd" }.Select((s, i) => SyntheticCurves.Generate(law, raw, s, Noise, seed: i)).ToList();
        var result = LawFitter.Fit(law, fitCurves);
        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(SyntheticCurves.Peak, result.LearningRateScale, 12);

        // The irreducible loss is identified by any curve (less tightly when the LR's exponent in the noise is free too:
        // a lower level with more noise held fits these three curves as well).
        double level = name == "fsl-direct-omega" ? 0.1 : 0.03;
        Assert.InRange(result.Parameters[0], truth[0] - level, truth[0] + level);
        // Forecasts of unseen schedules match the noiseless truth.
        foreach (var unseen in new[] { "wsd-early", "8-1-1" })
        {
            var clean = SyntheticCurves.Generate(law, raw, unseen, 0, seed: 0);
            var predicted = result.Predict(clean.Schedule.LearningRates.ToArray(), clean.Steps.ToArray());
            var metrics = CurveMetrics.Compute(clean.Losses, predicted);
            Assert.True(metrics.WorstE < 5e-3, $"{name} on {unseen}: WorstE {metrics.WorstE:E2}");
            Assert.True(metrics.PredE < 5e-4, $"{name} on {unseen}: PredE {metrics.PredE:E2}");
        }
        Assert.All(result.StandardErrors, se => Assert.True(se >= 0 || double.IsNaN(se)));
    }

    [Fact]
    public void RecoversTheFslParametersThatTheCurvesIdentify()
    {
        var (law, truth, raw) = Truth("fsl");
        // Less noise than elsewhere: along the L0–c1–s ridge a 6000-step run leaves L0 loose at 5e-4.
        var curves = new[] { "constant", "cosine", "wsd", "wsd-early" }.Select((s, i) => SyntheticCurves.Generate(law, raw, s, 2e-4, seed: 10 + i)).ToList();
        var result = LawFitter.Fit(law, curves);
        Assert.True(result.Succeeded, result.Message);
        var fitted = result.NamedParameters;
        // L0, s and γ lie within four of the fit's own standard errors of the truth, and those errors are small.
        foreach (var (name, value, relative) in new[] { ("L0", 3.2, 0.03), ("s", 0.5, 0.2), ("gamma", 0.7, 0.3) })
        {
            double se = result.StandardErrors[law.IndexOf(name)];
            Assert.True(se > 0 && se < relative * value, $"{name}: standard error {se}");
            Assert.True(Math.Abs(fitted[name] - value) <= 4 * se, $"{name}: fitted {fitted[name]}, truth {value}, standard error {se}");
        }
        // The drop strength at the stated intrinsic times, B·(1 + r·T^(−s)), is what the data pin down.
        double Strength(IReadOnlyDictionary<string, double> p, double t) => p["B"] * (1 + p["r"] * Math.Pow(t, -p["s"]));
        var known = law.Parameters.Select((p, i) => (p.Name, truth[i])).ToDictionary(x => x.Name, x => x.Item2);
        foreach (double t in new[] { 3000.0, 4500.0 })
        {
            Assert.InRange(Strength(fitted, t) / Strength(known, t), 0.9, 1.1);
        }
    }

    [Fact]
    public void TheLearningRatesExponentInTheNoiseIsRecoveredAndPredictsWhereSgdsDoesNot()
    {
        // Curves made with ω = 1.6: the noise held scales as η^0.6, so a cooldown's gain depends on its depth otherwise
        // than with SGD's η². Fitted free, ω comes back; fixed at 2 (fsl-direct), the law mispredicts a schedule it did not see.
        var (law, truth, raw) = Truth("fsl-direct-omega");
        var curves = new[] { "constant", "cosine", "wsd" }.Select((s, i) => SyntheticCurves.Generate(law, raw, s, Noise, seed: 20 + i)).ToList();
        var free = LawFitter.Fit(law, curves);
        var fixedAtTwo = LawFitter.Fit(new FslDirectLaw(), curves);
        Assert.True(free.Succeeded && fixedAtTwo.Succeeded, free.Message + fixedAtTwo.Message);
        double omega = free.NamedParameters["omega"];
        Assert.True(Math.Abs(omega - truth[7]) <= 0.1, $"ω fitted {omega}, truth {truth[7]}");
        // Unseen: a long decay to 30% of the peak, which holds noise η^(ω−1) of the peak's, not η's.
        var partial = FslTorch.Schedules.Schedule.Wsd(SyntheticCurves.Peak, SyntheticCurves.Warmup, 3000, SyntheticCurves.Steps,
            FslTorch.Schedules.DecayShape.Linear, FslTorch.Schedules.DecayTarget.FractionOfPeak(0.3)).SampleWithIntrinsicTime(SyntheticCurves.Steps);
        var steps = Enumerable.Range(1, 28).Select(i => 3000 + i * 107).ToArray();
        var real = law.Predict(raw, partial, steps);
        double PredE(FitResult fit) => CurveMetrics.Compute(real, fit.Predict(partial.LearningRates.ToArray(), steps)).PredE;
        Assert.True(PredE(free) < 5e-4, $"free ω: PredE {PredE(free):E2}");
        // Measured: 3.5e-4 with ω = 2 against 6.3e-5 free.
        Assert.True(PredE(fixedAtTwo) > 3 * PredE(free), $"ω = 2: PredE {PredE(fixedAtTwo):E2}, free ω: {PredE(free):E2}");
    }

    [Fact]
    public void RunsOfSeveralSchedulesGetTheLawThatFitsTheNoiseExponentAndOneScheduleTheDefault()
    {
        var (law, _, raw) = Truth("fsl-direct-omega");
        var constant = SyntheticCurves.Generate(law, raw, "constant", Noise, seed: 1);
        var otherSeed = SyntheticCurves.Generate(law, raw, "constant", Noise, seed: 2);
        var cosine = SyntheticCurves.Generate(law, raw, "cosine", Noise, seed: 3);
        // The same schedule logged with LRs rounded to three digits, and one 2% above it.
        ObservedCurve Scaled(string name, Func<double, double> change) =>
            new(name, new FslTorch.Schedules.SampledSchedule(constant.Schedule.LearningRates.ToArray().Select(change).ToArray()), constant.Steps, constant.Losses);
        var rounded = Scaled("rounded", r => double.Parse(r.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture));
        var higher = Scaled("higher", r => 1.02 * r);

        Assert.Equal(1, LossCurveLaws.DistinctSchedules([constant, otherSeed, rounded]));
        Assert.Equal(2, LossCurveLaws.DistinctSchedules([constant, otherSeed, cosine]));
        Assert.Equal(2, LossCurveLaws.DistinctSchedules([constant, higher]));
        Assert.Equal("fsl-direct", LossCurveLaws.ForRuns([constant]).Name);
        Assert.Equal("fsl-direct", LossCurveLaws.ForRuns([constant, otherSeed, rounded]).Name);
        Assert.Equal("fsl-direct-omega", LossCurveLaws.ForRuns([constant, cosine]).Name);
        Assert.Equal(LossCurveLaws.Default.Name, LossCurveLaws.ForRuns([]).Name);
    }

    [Fact]
    public void FitsAreDeterministic()
    {
        var (law, _, raw) = Truth("fsl");
        var curves = new[] { "constant", "cosine" }.Select((s, i) => SyntheticCurves.Generate(law, raw, s, Noise, seed: i)).ToList();
        var options = new FitOptions { RandomStarts = 2, Seed = 7 };
        var first = LawFitter.Fit(law, curves, options);
        var second = LawFitter.Fit(law, curves, options);
        Assert.Equal(first.Parameters, second.Parameters);
        Assert.Equal(first.Objective, second.Objective);
    }

    [Fact]
    public void APriorHoldsWhatOneConstantRunCannotIdentify()
    {
        var (law, truth, raw) = Truth("fsl");
        var constant = SyntheticCurves.Generate(law, raw, "constant", Noise, seed: 3);
        var prior = new ParameterPrior(truth, [double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, 0.05, 0.05, 0.05, 0.05]);
        var result = LawFitter.Fit(new FitProblem(law, [constant]) { Prior = prior });
        Assert.True(result.Succeeded, result.Message);
        foreach (var name in new[] { "B", "r", "c4", "gamma" })
        {
            int i = law.IndexOf(name);
            Assert.InRange(result.Parameters[i] / truth[i], Math.Exp(-0.15), Math.Exp(0.15));
        }
        // The prior also fixes the forecast of a decay the run never saw.
        var wsd = SyntheticCurves.Generate(law, raw, "wsd", 0, seed: 0);
        var forecast = result.Predict(wsd.Schedule.LearningRates.ToArray(), wsd.Steps.ToArray());
        Assert.True(CurveMetrics.Compute(wsd.Losses, forecast).WorstE < 5e-3);
    }

    [Fact]
    public void TooFewPointsGiveAFailedResultNotAnException()
    {
        var (law, _, raw) = Truth("fsl");
        var curve = SyntheticCurves.Generate(law, raw, "constant", Noise, seed: 1).Where(step => step < 420);
        Assert.True(curve.Count < 7);
        var result = LawFitter.Fit(law, [curve]);
        Assert.False(result.Succeeded);
        Assert.Equal(FitExitReason.Failed, result.ExitReason);
        Assert.Contains("points", result.Message);
        Assert.All(result.Parameters, p => Assert.True(double.IsNaN(p)));
        Assert.Throws<InvalidOperationException>(() => result.Predict([1e-4, 1e-4], [1]));
    }

    [Fact]
    public void AnUnusableCurveGivesAFailedResult()
    {
        // At step 0 with η_0 = 0 the intrinsic time is 0 and every law's T^(−s) is infinite.
        var schedule = new FslTorch.Schedules.SampledSchedule(Enumerable.Range(0, 100).Select(k => k < 50 ? 0.0 : 1e-4).ToArray());
        var curve = new ObservedCurve("zeros", schedule, Enumerable.Range(0, 10).ToArray(), Enumerable.Repeat(3.0, 10).ToArray());
        var result = LawFitter.Fit(new FslLaw(), [curve]);
        Assert.Equal(FitExitReason.Failed, result.ExitReason);
    }

    [Fact]
    public void ACancelledFitSaysSo()
    {
        var (law, _, raw) = Truth("fsl");
        var curve = SyntheticCurves.Generate(law, raw, "cosine", Noise, seed: 1);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var result = LawFitter.Fit(law, [curve], cancellationToken: cancellation.Token);
        Assert.Equal(FitExitReason.Cancelled, result.ExitReason);
        Assert.False(result.Succeeded);
    }

    [Fact]
    public void AWarmStartRefinesOnlyTheGivenPoint()
    {
        var (law, truth, raw) = Truth("momentum");
        var curves = new[] { "constant", "cosine" }.Select((s, i) => SyntheticCurves.Generate(law, raw, s, Noise, seed: i)).ToList();
        var warm = LawFitter.Fit(new FitProblem(law, curves) { InitialGuess = truth, WarmStartOnly = true });
        var cold = LawFitter.Fit(law, curves);
        Assert.True(warm.Succeeded, warm.Message);
        Assert.True(warm.Iterations <= cold.Iterations, $"warm {warm.Iterations} vs cold {cold.Iterations} iterations");
        Assert.InRange(warm.Objective, 0, cold.Objective * 1.01 + 1e-12);
    }

    [Fact]
    public void RefiningTheTwoBestScreenedStartsEndsNoHigherThanRefiningOne()
    {
        // A TinyGpt-like refit (the direct law, peak-normalised: a 100-step warmup, constant LR to step 960, and a probe
        // forked at 800 that decays to 1% in 80 steps), with noise, fitted cold and from a warm start in the collapsed fit
        // a live run's refit chain stayed in (L0 ≈ 0, s at its bound). Refining the two best screened starts ends no
        // higher than refining the best alone, and lower on some of these problems (with one, the fitter kept optima up
        // to 8% above the best its starts reach on TinyGpt's runs).
        var law = new FslDirectLaw();
        double[] truth = [0.2, 2.9, 0.054, 63, 1.29, 2.0, 0.011];
        double[] collapsed = [2.3e-10, 4.8, 0.18, 105, 5, 0.76, 0.0012];
        var rates = Enumerable.Range(0, 960).Select(k => k < 100 ? (k + 1) / 100.0 : 1.0).ToArray();
        var probeRates = rates[..800].Concat(Enumerable.Range(1, 80).Select(k => 1 - 0.99 * k / 80)).ToArray();
        int lower = 0;
        foreach (double noise in new[] { 0.01, 0.05 })
        {
            var random = new Random(1);
            ObservedCurve Noisy(string name, double[] schedule, int[] steps) => new(name, new FslTorch.Schedules.SampledSchedule(schedule), steps,
                law.Predict(truth, new FslTorch.Schedules.SampledSchedule(schedule), steps).Select(l => l * (1 + noise * SyntheticCurves.Gaussian(random))).ToArray());
            var curves = new[] { Noisy("run", rates, Enumerable.Range(100, 860).ToArray()), Noisy("probe", probeRates, Enumerable.Range(800, 80).ToArray()) };
            foreach (var warm in new[] { null, collapsed })
            {
                var problem = new FitProblem(law, curves) { InitialGuess = warm };
                var one = LawFitter.Fit(problem, new FitOptions { RefinedStarts = 1 });
                var two = LawFitter.Fit(problem);
                Assert.True(one.Succeeded && two.Succeeded, one.Message + " / " + two.Message);
                Assert.True(two.Objective <= one.Objective * (1 + 1e-12), $"noise {noise}, warm {warm != null}: {two.Objective} > {one.Objective}");
                if (two.Objective < one.Objective * (1 - 1e-3)) lower++;
            }
        }
        Assert.True(lower >= 1, "refining two starts never ended lower than refining one");
    }

    [Fact]
    public void TheDirectLawsSourceExponentStaysAtOrBelowItsMaximum()
    {
        // A curve the direct law makes with s far above its maximum: the parameters (peak-normalised) of a fit that a
        // short TinyGpt run's forecast landed on (an exponential signal; the noise terms carry the decline), on a
        // 1000-step constant run at LR 1 after a 50-step warmup.
        var law = new FslDirectLaw();
        double[] degenerate = [0.05, 4.66, 0.23, 463, 23.5, 68, 0.00245];
        Assert.True(degenerate[4] > FslDirectLaw.MaxSourceExponent);
        var schedule = FslTorch.Schedules.Schedule.WithWarmup(FslTorch.Schedules.Schedule.Constant(1), 50).SampleWithIntrinsicTime(1000);
        var steps = Enumerable.Range(50, 950).Where(k => k % 5 == 0).ToArray();
        var random = new Random(3);
        var losses = law.Predict(degenerate, schedule, steps).Select(l => l * (1 + 1e-3 * SyntheticCurves.Gaussian(random))).ToArray();
        var curve = new ObservedCurve("degenerate", schedule, steps, losses);

        // Refined from those very parameters (the best start there is), and from the fitter's own starts.
        var warm = LawFitter.Fit(new FitProblem(law, [curve]) { InitialGuess = degenerate, WarmStartOnly = true });
        var cold = LawFitter.Fit(law, [curve]);
        foreach (var fit in new[] { warm, cold })
        {
            Assert.True(fit.Succeeded, fit.Message);
            Assert.InRange(fit.Parameters[4], 0, FslDirectLaw.MaxSourceExponent);
            // Still a fit of the curve: within 1% everywhere.
            var predicted = fit.Predict(schedule.LearningRates.ToArray(), steps);
            Assert.All(predicted.Zip(losses), x => Assert.InRange(x.First / x.Second, 0.99, 1.01));
        }
    }

    [Fact]
    public void BadOptionsThrowAtConfiguration()
    {
        var (law, _, raw) = Truth("momentum");
        var curve = SyntheticCurves.Generate(law, raw, "constant", Noise, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => LawFitter.Fit(law, [curve], new FitOptions { HuberDelta = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LawFitter.Fit(law, [curve], new FitOptions { Starts = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LawFitter.Fit(law, [curve], new FitOptions { RefinedStarts = 0 }));
        Assert.Throws<ArgumentException>(() => LawFitter.Fit(new FitProblem(law, [curve]) { WarmStartOnly = true }));
        Assert.Throws<ArgumentException>(() => LawFitter.Fit(new FitProblem(law, [curve]) { InitialGuess = [1.0] }));
        Assert.Throws<ArgumentException>(() => LawFitter.Fit(law, []));
        Assert.Throws<ArgumentException>(() => LawFitter.Fit(new FitProblem(law, [curve]) { Prior = new ParameterPrior([1.0], [1.0]) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LawFitter.Fit(new FitProblem(law, [curve]) { LearningRateScale = -1 }));
    }

    [Theory]
    [InlineData("fsl")]
    [InlineData("fsl-direct")]
    [InlineData("fsl-direct-omega")]
    [InlineData("mpl")]
    [InlineData("momentum")]
    public void ParametersConvertBetweenLearningRateUnits(string name)
    {
        // The truth in peak-normalised units, converted to raw units (ratio = peak / 1), is the raw truth.
        var (law, normalised, raw) = Truth(name);
        var converted = law.ConvertLearningRateUnit(normalised, SyntheticCurves.Peak);
        for (int j = 0; j < raw.Length; j++) Assert.Equal(raw[j], converted[j], raw[j] * 1e-12);
        // And they predict the same curve on the schedule in each unit.
        var schedule = SyntheticCurves.Schedules["wsd"].Sample(SyntheticCurves.Steps);
        int[] steps = [400, 2000, 4600, 5999];
        var inPeakUnits = law.PredictExact(normalised, new FslTorch.Schedules.SampledSchedule(schedule.Select(r => r / SyntheticCurves.Peak).ToArray()), steps);
        var inRawUnits = law.PredictExact(converted, new FslTorch.Schedules.SampledSchedule(schedule), steps);
        for (int i = 0; i < steps.Length; i++) Assert.Equal(inPeakUnits[i], inRawUnits[i], 1e-9);
    }

    [Fact]
    public void APriorFromARunWithAnotherPeakIsConvertedToTheFitsUnit()
    {
        // A prior saved from a fit at peak 3e-4 (its unit), used by a fit of the same law at peak 6e-4: the mean is
        // converted, so the prior still centres on the truth there.
        var (law, normalised, _) = Truth("fsl-direct");
        var prior = new ParameterPrior(normalised, [.. normalised.Select(_ => 0.05)]) { LearningRateScale = SyntheticCurves.Peak };
        var inDoublePeak = prior.InUnit(law, 2 * SyntheticCurves.Peak);
        var expected = law.ConvertLearningRateUnit(normalised, 0.5);
        Assert.Equal(expected, inDoublePeak.Mean.ToArray());
        Assert.Same(prior, prior.InUnit(law, SyntheticCurves.Peak));
        var unitless = new ParameterPrior(normalised, [.. normalised.Select(_ => 0.05)]);
        Assert.Same(unitless, unitless.InUnit(law, 1.0)); // a peak-normalised prior applies as it is
        // A file written by SaveParameters keeps its unit.
        string file = Path.GetTempFileName();
        try
        {
            var fit = LawFitter.Fit(law, [SyntheticCurves.Generate(law, Truth("fsl-direct").Raw, "constant", Noise, seed: 2)]);
            fit.SaveParameters(file);
            var loaded = ParameterPrior.FromFile(file, law, 0.1);
            Assert.Equal(fit.LearningRateScale, loaded.LearningRateScale);
            Assert.Equal(ParameterPrior.FromFit(fit, 0.1).StandardDeviations, loaded.StandardDeviations); // the same parameters carry the spread
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void TheReducedLawIsRecoveredByLogLogRegression()
    {
        var times = Enumerable.Range(1, 200).Select(i => i * 10.0).ToList();
        var losses = times.Select(t => 2.5 + 1.2 * Math.Pow(t, -0.4)).ToList();
        var (l0, a, alpha) = LawFitter.FitReducedLaw(times, losses);
        Assert.InRange(l0, 2.45, 2.55);
        Assert.InRange(alpha, 0.3, 0.5);
        Assert.InRange(a, 0.8, 1.6);
    }
}
