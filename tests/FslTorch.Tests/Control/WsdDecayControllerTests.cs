using FslTorch.Control;
using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Control;

public sealed class WsdDecayControllerTests
{
    private const long N = 1000;

    private static WsdSchedule Schedule() => new(1.0, 20, 950, N);

    // Decide every 20 steps, as a forecaster with that refit interval would; returns the start chosen.
    private static (long Start, DecisionLoop Controller) Run(double optimum, DecayControllerOptions? options = null,
        Func<long, Hindcast?>? hindcast = null)
    {
        var controller = new DecisionLoop(Schedule(), options);
        var fit = FakeDecayLaw.Fit(new FakeDecayLaw(optimum));
        for (long next = 20; next < N; next += 20)
        {
            long at = next;
            var decision = controller.Decide(next, fit, next + 20, hindcast == null ? null : () => hindcast(at));
            if (decision is { StartNow: true }) return (decision.DecayStartStep, controller);
        }
        return (controller.Schedule.DecayStartStep, controller); // started by the plan, which never passes the latest start
    }

    [Fact]
    public void StartsWhereWaitingNoLongerGainsMoreThanTheMargin()
    {
        // Final loss 0.1·(D/N − 0.6)² above the best: waiting gains more than the margin m until
        // D/N ≥ 0.6 − √(m/0.1) (0.5 for the default m = 0.001); decisions come every 20 steps.
        var (start, controller) = Run(0.6);
        double threshold = N * (0.6 - Math.Sqrt(controller.Options.Margin / 0.1));
        Assert.InRange(start, threshold - 1e-9, threshold + 20);
        Assert.Equal(start, controller.Schedule.DecayStartStep);
        var waits = controller.Decisions.Where(d => !d.StartNow).ToList();
        Assert.NotEmpty(waits);
        Assert.All(waits, d => Assert.True(d.GainOfWaiting > controller.Options.Margin || d.Step < controller.EarliestStart));
        Assert.All(controller.Decisions, d => Assert.NotEmpty(d.Candidates));
    }

    [Fact]
    public void AFailedHindcastKeepsThePlanAndAPassedOneChangesNothing()
    {
        var (plain, _) = Run(0.6);
        // Passing hindcasts: the same start as without them, and the decision carries its check.
        var (passed, controller) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.01, 2.0, 0.2, 0.001));
        Assert.Equal(plain, passed);
        Assert.NotNull(controller.Decisions.Single(d => d.StartNow).Hindcast);
        // The default tolerance is the forecasts' own (half the drop): a law that missed the recent past by 30% of the
        // drop, as on TinyGpt's runs, is trusted (with a tenth, as before, the plan stays).
        var (third, _) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.06, 2.0, 0.2, 0.001));
        Assert.Equal(plain, third);
        var (strict, _) = Run(0.6, new DecayControllerOptions { HindcastTolerance = 0.1 }, hindcast: at => new Hindcast(at * at / N, at - 1, 2.06, 2.0, 0.2, 0.001));
        Assert.Equal(950, strict);
        // Failing (or impossible) hindcasts: the margin rule never starts the decay; the plan (latest start) stays.
        var (failed, failing) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.2, 2.0, 0.2, 0.001));
        Assert.Equal(950, failed);
        Assert.DoesNotContain(failing.Decisions, d => d.StartNow);
        Assert.Contains(failing.Decisions, d => d.Reason.Contains("does not extrapolate this run"));
        // Trust needs a track record: checks that fail until step 600 and pass from then on let it start at the
        // third passing decision in a row, 640 (without checks it starts at 500).
        var (late, lateController) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, at < 600 ? 2.2 : 2.01, 2.0, 0.2, 0.001));
        Assert.Equal(640, late);
        Assert.Contains(lateController.Decisions, d => d.Reason.Contains("only the last 2 hindcasts passed"));
        var (unknown, _) = Run(0.6, hindcast: _ => null);
        Assert.Equal(950, unknown);
        // Turned off, a failing hindcast is not even asked for.
        var (off, _) = Run(0.6, new DecayControllerOptions { HindcastTolerance = double.PositiveInfinity }, hindcast: _ => throw new InvalidOperationException("asked"));
        Assert.Equal(plain, off);
    }

    [Fact]
    public void AHindcastWhoseDropIsWithinItsNoiseIsNoCheckAndKeepsThePlan()
    {
        var (plain, _) = Run(0.6);
        // The loss fell by 0.005 over the checked stretch with a standard error of 0.01: any prediction near the observed
        // level passes such a check, so it is no evidence that the law extrapolates the run.
        var (noisy, controller) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.0, 2.0, 0.005, 0.01));
        Assert.Equal(950, noisy);
        Assert.DoesNotContain(controller.Decisions, d => d.StartNow);
        Assert.Contains(controller.Decisions, d => d.Reason.Contains("cannot be checked on this run's noise"));
        // The same standard error with a drop well above it is a check, and a passed one changes nothing.
        var (clear, _) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.0, 2.0, 0.2, 0.01));
        Assert.Equal(plain, clear);
        // Checks that say nothing until step 600 hold the decision until the first informative one passes (600); they are
        // not failures, after which three passes in a row would be needed (640, as with checks that fail until 600).
        var (late, _) = Run(0.6, hindcast: at => new Hindcast(at * at / N, at - 1, 2.0, 2.0, at < 600 ? 0.005 : 0.2, 0.01));
        Assert.Equal(600, late);
    }

    [Fact]
    public void AFitWhoseUncertaintyCannotBeEstimatedKeepsThePlan()
    {
        var law = new FakeDecayLaw(0.5);
        // Stable forecasts that say "start now", from fits without a usable covariance: the controller cannot tell how
        // sure they are, and waits; the decay then starts where it was planned.
        var controller = new DecisionLoop(Schedule());
        for (long next = 500; next < 600; next += 20)
        {
            var decision = controller.Decide(next, FakeDecayLaw.Fit(law, withoutCovariance: true), next + 20)!;
            Assert.False(decision.StartNow);
        }
        Assert.Contains("uncertainty cannot be estimated", controller.Decisions[^1].Reason);
        Assert.Equal(950, controller.Schedule.DecayStartStep);
        // With a covariance the same forecasts start the decay at the third stable one; with the uncertainty turned off
        // (UncertaintyWeight 0) the fits without one do too.
        var withCovariance = new DecisionLoop(Schedule());
        Assert.Equal([false, false, true], Enumerable.Range(0, 3).Select(i => withCovariance.Decide(500 + 20 * i, FakeDecayLaw.Fit(law), 520 + 20 * i)!.StartNow));
        var off = new DecisionLoop(Schedule(), new DecayControllerOptions { UncertaintyWeight = 0 });
        Assert.Equal([false, false, true],
            Enumerable.Range(0, 3).Select(i => off.Decide(500 + 20 * i, FakeDecayLaw.Fit(law, withoutCovariance: true), 520 + 20 * i)!.StartNow));
    }

    [Fact]
    public void WithoutAMarginItWaitsForThePredictedOptimum()
    {
        var (start, _) = Run(0.6, new DecayControllerOptions { Margin = 0 });
        Assert.InRange(start, 580, 620);
    }

    [Fact]
    public void TheRailsHold()
    {
        // The optimum lies before the minimum stable phase (10% of N) and after the shortest decay (95% of N).
        var (early, controller) = Run(0.02);
        Assert.Equal(controller.EarliestStart, early);
        Assert.Equal(100, controller.EarliestStart);
        var (late, lateController) = Run(0.999, new DecayControllerOptions { Margin = 0 });
        Assert.Equal(lateController.LatestStart, late);
        Assert.Equal(950, lateController.LatestStart);
    }

    [Fact]
    public void PlansNeverReachIntoThePastAndTheStartFreezes()
    {
        var (start, controller) = Run(0.6);
        Assert.All(controller.Decisions, d => Assert.True(d.DecayStartStep >= d.Step, $"decision at {d.Step} planned {d.DecayStartStep}"));
        // After the start, nothing moves any more.
        Assert.Null(controller.Decide(start + 40, FakeDecayLaw.Fit(new FakeDecayLaw(0.9)), start + 60));
        Assert.Equal(start, controller.Schedule.DecayStartStep);
    }

    [Fact]
    public void AFailingPredictionChangesNothing()
    {
        var controller = new DecisionLoop(Schedule());
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.Controller.Evaluate(500, controller.Schedule, FakeDecayLaw.Fit(new FakeDecayLaw(0.6, throws: true)), 520));
        var decision = controller.Decide(500, FakeDecayLaw.Fit(new FakeDecayLaw(0.6, throws: true)), 520);
        Assert.Null(decision);
        Assert.Equal(950, controller.Schedule.DecayStartStep);
        Assert.Empty(controller.Decisions);
        var failed = FakeDecayLaw.Fit(new FakeDecayLaw(0.6));
        Assert.Null(controller.Decide(500, new FslTorch.Fitting.FitResult(failed.Law, 1, [double.NaN], double.NaN,
            FslTorch.Fitting.FitExitReason.Failed, 0, TimeSpan.Zero, [double.NaN], new double[1, 1], "failed"), 520));
    }

    [Fact]
    public void AForecastTooUncertainToDecideMakesItWait()
    {
        // The optimum fraction is itself a fitted parameter with a standard error of a factor e: the gain of
        // waiting varies far more over draws than MaxGainUncertainty allows, so the controller waits.
        var uncertain = OptimumFit(standardError: 0.6, variance: 1.0);
        var controller = new DecisionLoop(Schedule(), new DecayControllerOptions { StableForecasts = 1 });
        var decision = controller.Decide(500, uncertain, 520)!;
        Assert.False(decision.StartNow);
        Assert.Contains("too uncertain", decision.Reason);
        Assert.True(decision.GainUncertainty > controller.Options.MaxGainUncertainty);
        // A confident fit of the same optimum decides as before.
        var confident = OptimumFit(standardError: 0.0006, variance: 1e-6);
        Assert.True(controller.Decide(500, confident, 520)!.StartNow);
    }

    [Fact]
    public void TheGainsUncertaintyIsDrawnOnlyWhenTheDecisionCanDependOnIt()
    {
        var uncertain = OptimumFit(standardError: 0.6, variance: 1.0);
        // Without decay evidence, or before its forecasts are stable, the plan stays whatever the draws say: none are made.
        var controller = new DecisionLoop(Schedule(), new DecayControllerOptions { StableForecasts = 2 });
        var withoutEvidence = controller.Controller.Evaluate(500, controller.Schedule, uncertain, 520, hasDecayEvidence: false);
        Assert.Equal(0, withoutEvidence.GainUncertainty);
        Assert.Contains("no evidence", withoutEvidence.Reason);
        var first = controller.Decide(500, uncertain, 520)!;
        Assert.Contains("not yet stable", first.Reason);
        Assert.Equal(0, first.GainUncertainty);
        // The second stable forecast decides, so its draws are made (and here they make it wait).
        var second = controller.Decide(520, uncertain, 540)!;
        Assert.Contains("too uncertain", second.Reason);
        Assert.True(second.GainUncertainty > controller.Options.MaxGainUncertainty);
    }

    // A fit of OptimumLaw at the optimum fraction 0.6 with the given standard error and (log-scale) variance.
    private static FslTorch.Fitting.FitResult OptimumFit(double standardError, double variance) =>
        new(new OptimumLaw(), 1.0, [0.6], 0, FslTorch.Fitting.FitExitReason.Converged, 1, TimeSpan.Zero, [standardError], new double[1, 1] { { variance } }, "fake");

    /// <summary>Final loss 3 + 0.1·(D/N − f)² with the optimum fraction f as its one (log-scale) parameter.</summary>
    private sealed class OptimumLaw : FslTorch.Surrogates.LossCurveLaw
    {
        public override string Name => "optimum";
        public override string Formula => "3 + 0.1·(D/N − f)²";
        public override IReadOnlyList<FslTorch.Surrogates.LawParameter> Parameters { get; } = [new("f", "optimum fraction")];
        public override IReadOnlyList<string> DecayResponseParameters => ["f"];
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => [[0.5]];

        protected override void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
        {
            var eta = schedule.LearningRates;
            int decay = eta.Length;
            for (int k = 21; k < eta.Length; k++) if (eta[k] < eta[k - 1]) { decay = k - 1; break; }
            for (int i = 0; i < steps.Length; i++) losses[i] = 3 + 0.1 * Math.Pow((double)decay / eta.Length - parameters[0], 2);
        }

        protected override void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            EvaluateCore(parameters, schedule, steps, losses, Span<double>.Empty);
    }

    [Fact]
    public void ItWaitsUntilConsecutiveForecastsAgree()
    {
        var controller = new DecisionLoop(Schedule());
        // The same forecast three times: the first two decisions wait for stability, the third may act.
        var fit = FakeDecayLaw.Fit(new FakeDecayLaw(0.5));
        Assert.Contains("not yet stable", controller.Decide(500, fit, 520)!.Reason);
        Assert.Contains("not yet stable", controller.Decide(520, fit, 540)!.Reason);
        Assert.True(controller.Decide(540, fit, 560)!.StartNow);
        // Forecasts that jump around, in level and in the start they find best, keep it waiting.
        var jumpy = new DecisionLoop(Schedule());
        for (int i = 0; i < 6; i++)
        {
            var decision = jumpy.Decide(500 + 20 * i, FakeDecayLaw.Fit(new FakeDecayLaw(i % 2 == 0 ? 0.5 : 0.9), offset: 0.1 * (i % 2)), 520 + 20 * i)!;
            Assert.False(decision.StartNow);
        }
        // Judged by level alone (without AgreeingStartsAreStable), forecasts that jump in level keep it waiting even when
        // every one finds starting now best.
        var byLevel = new DecisionLoop(Schedule(), new DecayControllerOptions { AgreeingStartsAreStable = false });
        for (int i = 0; i < 6; i++)
        {
            var decision = byLevel.Decide(500 + 20 * i, FakeDecayLaw.Fit(new FakeDecayLaw(0.5), offset: 0.1 * (i % 2)), 520 + 20 * i)!;
            Assert.False(decision.StartNow);
        }
    }

    [Fact]
    public void StabilityComparesTheFitsOnTheSameScheduleNotTheLossOfStartingAtEachDecisionsOwnStep()
    {
        // The optimum (a decay from 30% of N) has passed: every decision predicts starting now to be best, and the loss of
        // starting now rises from one decision to the next by what the later start costs (here 0.0018 nats over two
        // decisions) although the fit is the same. With a tolerance below that rise the third decision still acts. (The
        // level rule alone, without AgreeingStartsAreStable, which would let these decisions act on their agreement.)
        var options = new DecayControllerOptions { ForecastTolerance = 0.001, AgreeingStartsAreStable = false };
        var controller = new DecisionLoop(Schedule(), options);
        var fit = FakeDecayLaw.Fit(new FakeDecayLaw(0.3));
        var decisions = Enumerable.Range(0, 3).Select(i => controller.Decide(500 + 20 * i, fit, 520 + 20 * i)!).ToList();
        var bestLosses = decisions.Select(d => d.Candidates.Min(c => c.PredictedFinalLoss)).ToList();
        Assert.True(bestLosses.Max() - bestLosses.Min() > options.ForecastTolerance);
        Assert.All(decisions, d => Assert.Equal(d.Step, d.Candidates.MinBy(c => c.PredictedFinalLoss)!.DecayStartStep));
        Assert.Equal([false, false, true], decisions.Select(d => d.StartNow));
        // A fit that moves by more than the tolerance on the schedule an earlier decision found best keeps it waiting.
        var moving = new DecisionLoop(Schedule(), options);
        for (int i = 0; i < 4; i++)
        {
            var decision = moving.Decide(500 + 20 * i, FakeDecayLaw.Fit(new FakeDecayLaw(0.3), offset: 0.002 * i), 520 + 20 * i)!;
            Assert.False(decision.StartNow);
            if (i >= 2) Assert.Contains("not yet stable", decision.Reason);
        }
    }

    [Fact]
    public void WithAgreeingStartsAreStableFitsThatMoveButAllSayStartNowAct()
    {
        // The optimum (30% of N) has passed and every fit says "start now", but each lies 0.002 nats above the one before
        // on the same schedule (tolerance 0.001): by level they are unstable, by what they say they agree.
        var options = new DecayControllerOptions { ForecastTolerance = 0.001, AgreeingStartsAreStable = true };
        var moving = new DecisionLoop(Schedule(), options);
        var decisions = Enumerable.Range(0, 3)
            .Select(i => moving.Decide(500 + 20 * i, FakeDecayLaw.Fit(new FakeDecayLaw(0.3), offset: 0.002 * i), 520 + 20 * i)!).ToList();
        Assert.Equal([false, false, true], decisions.Select(d => d.StartNow));
        Assert.Equal(540, moving.Schedule.DecayStartStep);

        // Fits that move and disagree (the second would wait for a decay from 80% of N) are not stable either way, as long as
        // that decision is among the last two.
        var disagreeing = new DecisionLoop(Schedule(), options);
        double[] optima = [0.3, 0.8, 0.3, 0.3];
        for (int i = 0; i < optima.Length; i++)
        {
            var decision = disagreeing.Decide(500 + 20 * i, FakeDecayLaw.Fit(new FakeDecayLaw(optima[i])), 520 + 20 * i)!;
            Assert.False(decision.StartNow);
            if (i >= 2) Assert.Contains("not yet stable", decision.Reason);
        }
    }

    [Fact]
    public void OnlyForecastsWithDecayEvidenceCountTowardsStability()
    {
        // Two decisions without decay evidence, then the same forecast with it: the evidence-less ones agree with it,
        // but only the third decision with evidence may act.
        var fit = FakeDecayLaw.Fit(new FakeDecayLaw(0.5));
        var controller = new DecisionLoop(Schedule());
        Assert.Contains("no evidence", controller.Decide(500, fit, 520, hasDecayEvidence: false)!.Reason);
        Assert.Contains("no evidence", controller.Decide(520, fit, 540, hasDecayEvidence: false)!.Reason);
        var first = controller.Decide(540, fit, 560)!;
        Assert.False(first.StartNow);
        Assert.Contains("only 1 of the 3 needed with decay evidence", first.Reason);
        Assert.False(controller.Decide(560, fit, 580)!.StartNow);
        Assert.True(controller.Decide(580, fit, 600)!.StartNow);
        Assert.Equal([false, false, true, true, true], controller.Decisions.Select(d => d.HasDecayEvidence));
        // Without the evidence rule every forecast counts: the third decision acts.
        var anyForecast = new DecisionLoop(Schedule(), new DecayControllerOptions { RequireDecayEvidence = false });
        Assert.False(anyForecast.Decide(500, fit, 520, hasDecayEvidence: false)!.StartNow);
        Assert.False(anyForecast.Decide(520, fit, 540, hasDecayEvidence: false)!.StartNow);
        Assert.True(anyForecast.Decide(540, fit, 560)!.StartNow);
    }

    [Fact]
    public void WithASeenDecayShorterThanTheCandidatesEachIsWeighedAsTheForecastWeighsThePlannedOne()
    {
        // A direct-FSL fit (peak-normalised parameters, LR unit the peak) and a probe of 80 steps that decayed linearly to 0.
        const double peak = 1e-3;
        const int total = 2000;
        var fit = FslTorch.Fitting.FitResult.FromParameters(new FslTorch.Surrogates.FslDirectLaw(), peak, [3.0, 1.5, 0.02, 50, 0.5, 1.6, 0.016]);
        var plan = new WsdSchedule(peak, 100, 1600, total);
        double[] ramp = Enumerable.Range(1, 80).Select(j => 1 - j / 80.0).ToArray();
        var raw = new WsdDecayController(plan).Evaluate(900, plan, fit, 940);
        var weighed = new WsdDecayController(plan).Evaluate(900, plan, fit, 940, seenDecayShape: ramp);
        Assert.Equal(raw.Candidates.Select(c => c.DecayStartStep), weighed.Candidates.Select(c => c.DecayStartStep));

        // Worked out here from whole schedules: the run holding its peak to the end, and the probe's shape from each start.
        var held = Enumerable.Range(0, total).Select(k => k < 1600 ? plan.GetLearningRate(k) : peak).ToArray();
        var beyond = new List<double>();
        foreach (var (plain, candidate) in raw.Candidates.Zip(weighed.Candidates))
        {
            int start = (int)plain.DecayStartStep, end = Math.Min(total, start + ramp.Length) - 1;
            var probe = held.ToArray();
            for (int k = start; k <= end; k++) probe[k] = ramp[k - start] * peak;
            // Evaluated as the controller and forecasts evaluate (fast).
            var holding = fit.Predict(held, [end, total - 1], fast: true);
            double seen = Math.Max(0, holding[0] - fit.Predict(probe, [end], fast: true)[0]);
            beyond.Add(Math.Max(0, holding[1] - plain.PredictedFinalLoss - seen));
            // Fast evaluations merge constant-LR stretches between the steps asked for: 1e-4 apart for other step lists.
            Assert.Equal(plain.PredictedFinalLoss + Forecast.UnseenGainShare * beyond[^1], candidate.PredictedFinalLoss, 1e-4);
        }
        // The law predicts more than the probe's shape buys for every decay longer than it, and most for the longest.
        Assert.All(beyond, b => Assert.True(b > 0.01, $"{b}"));
        Assert.Equal(beyond.Max(), beyond[0]);
    }

    [Fact]
    public void BadRailsThrowAtConfiguration()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { Margin = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { MinDecayFraction = 0.5, MaxDecayFraction = 0.3 }));
        Assert.Throws<ArgumentException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { MinStableFraction = 0.99 }));
    }
}
