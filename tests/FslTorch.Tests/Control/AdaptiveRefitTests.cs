using System.Text.Json;
using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tracking;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Control;

/// <summary>The adaptive refit interval keeps inline refits within their share of the loop's wall time.</summary>
public sealed class AdaptiveRefitTests
{
    /// <summary>A law (the momentum law by default) made slow on the manual clock: every evaluation costs 2 ms.</summary>
    private sealed class SlowLaw(ManualClock clock, LossCurveLaw? inner = null) : LossCurveLaw
    {
        private readonly LossCurveLaw _inner = inner ?? new MomentumLaw();
        public override string Name => _inner.Name;
        public override LossCurveLaw WithKernelTolerance(double tolerance) => new SlowLaw(clock, _inner.WithKernelTolerance(tolerance));
        public override LossCurveLaw WithSourceBlocks(double fraction) => new SlowLaw(clock, _inner.WithSourceBlocks(fraction));
        protected override void ConvertLearningRateUnitCore(double[] parameters, double ratio) =>
            _inner.ConvertLearningRateUnit(parameters, ratio).CopyTo(parameters, 0);
        public override string Formula => _inner.Formula;
        public override IReadOnlyList<LawParameter> Parameters => _inner.Parameters;
        public override IReadOnlyList<string> DecayResponseParameters => _inner.DecayResponseParameters;
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => _inner.InitialGuesses(l0, a, alpha);
        protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
        {
            clock.Ticks += TimeSpan.FromMilliseconds(2).Ticks;
            _inner.Evaluate(p, schedule, steps, losses, jacobian);
        }
        protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            EvaluateCore(p, schedule, steps, losses, Span<double>.Empty);
    }

    private static (int Refits, double Share) Run(int? interval, TimeSpan addedPerForecast = default) =>
        Run(interval, addedPerForecast, stepCost: TimeSpan.FromMilliseconds(100), maxForecastAge: 1, refitSteps: null);

    private static (int Refits, double Share) Run(int? interval, TimeSpan addedPerForecast, TimeSpan stepCost, double maxForecastAge, List<long>? refitSteps) =>
        Run(interval, addedPerForecast, stepCost, maxForecastAge, refitSteps, loopWork: default, chargeLoopWork: false);

    // loopWork: the caller's own work at every step end (a monitor's tracking and finalizer hold), charged to the
    // forecaster's share with chargeLoopWork; the share returned is the whole: the forecaster's work and that loop work.
    private static (int Refits, double Share) Run(int? interval, TimeSpan addedPerForecast, TimeSpan stepCost, double maxForecastAge, List<long>? refitSteps,
        TimeSpan loopWork, bool chargeLoopWork)
    {
        const int n = 5000;
        var clock = new ManualClock();
        var schedule = Schedule.Wsd(1.0, 50, 4000, n);
        var tracker = new LossTracker();
        // No random starts: every refit costs the law evaluations these runs were sized for (a few dozen at 2 ms each).
        using var forecaster = new Forecaster(schedule, n, tracker, new ForecasterOptions
        {
            Law = new SlowLaw(clock), RefitInterval = interval, TimeProvider = clock, BandSamples = 0, CalibrateBands = false,
            MaxForecastAge = maxForecastAge, RandomStarts = 0,
        });
        int refits = 0;
        for (long step = 0; step < n; step++)
        {
            clock.Ticks += stepCost.Ticks; // a training step
            tracker.Record(step, schedule.GetLearningRate(step), 3 + 2 / Math.Sqrt(1 + step));
            if (forecaster.IsRefitStep(step))
            {
                refits++;
                refitSteps?.Add(step);
            }
            if (forecaster.OnStepEnd(step) != null && addedPerForecast > TimeSpan.Zero)
            {
                clock.Ticks += addedPerForecast.Ticks; // the caller's decision from the forecast
                forecaster.AddWork(addedPerForecast);
            }
            clock.Ticks += loopWork.Ticks;
            if (chargeLoopWork) forecaster.AddLoopWork(loopWork);
        }
        double whole = forecaster.WallTime.TotalSeconds + loopWork.TotalSeconds * n;
        return (refits, whole / TimeSpan.FromTicks(clock.Ticks).TotalSeconds);
    }

    [Fact]
    public void TheDefaultIntervalStretchesToKeepRefitsWithinTheirShare()
    {
        var (fixedRefits, fixedShare) = Run(interval: 100);
        var (adaptiveRefits, adaptiveShare) = Run(interval: null);
        Assert.Equal(50, fixedRefits);
        Assert.True(fixedShare > 0.02, $"fixed share {fixedShare:P1}"); // slow fits at every 2%: far over 1%
        Assert.InRange(adaptiveRefits, 3, 25);
        // Only the first refit comes before its cost is known; the budget holds the whole run near 1%.
        Assert.True(adaptiveShare <= 0.0115, $"adaptive share {adaptiveShare:P2} (fixed {fixedShare:P2})");
    }

    [Fact]
    public void WorkTheCallerAddsForAForecastCountsAgainstTheShare()
    {
        var (plainRefits, _) = Run(interval: null);
        // A decision that takes 0.5 s after each forecast: fewer refits, and the whole still within the share.
        var (refits, share) = Run(interval: null, addedPerForecast: TimeSpan.FromSeconds(0.5));
        Assert.True(refits < plainRefits, $"{refits} refits with the callers' work, {plainRefits} without");
        Assert.True(share <= 0.0115, $"share with the callers' work {share:P2}");
    }

    [Fact]
    public void LoopWorkChargedToTheShareKeepsTheCallersWholeCostWithinIt()
    {
        // The caller spends 0.25 ms of every 100-ms step on its own (0.25% of the run): uncharged, it comes on top of
        // the refits' 1%; charged, the refits get what is left of the share, the loop work paid for up to the last step.
        var step = TimeSpan.FromMilliseconds(100);
        var loop = TimeSpan.FromMilliseconds(0.25);
        var (unchargedRefits, uncharged) = Run(null, default, step, maxForecastAge: 1, refitSteps: null, loop, chargeLoopWork: false);
        var (refits, charged) = Run(null, default, step, maxForecastAge: 1, refitSteps: null, loop, chargeLoopWork: true);
        Assert.True(uncharged > 0.011, $"uncharged: the whole {uncharged:P2}");
        Assert.True(refits < unchargedRefits, $"{refits} refits charged, {unchargedRefits} uncharged");
        Assert.True(charged <= 0.0101, $"charged: the whole {charged:P2} ({refits} refits; uncharged {uncharged:P2}, {unchargedRefits} refits)");
        // Loop work that takes the whole share leaves no refit after the first.
        var (starved, _) = Run(null, default, step, maxForecastAge: 1, refitSteps: null, TimeSpan.FromMilliseconds(1.2), chargeLoopWork: true);
        Assert.Equal(1, starved);
    }

    [Fact]
    public void ARunTooFastForItsShareStillRefitsEveryFifthOfTheBudget()
    {
        // One training step costs 5 ms: a whole fit is several percent of such a run, so the 1% share alone would
        // leave it one or two forecasts (as on a GPU, where TinyGpt's 3000 steps took 29 s and got one refit).
        var fast = TimeSpan.FromMilliseconds(5);
        var (starvedRefits, _) = Run(null, default, fast, maxForecastAge: 1, refitSteps: null);
        var steps = new List<long>();
        var (refits, share) = Run(null, default, fast, maxForecastAge: 0.2, steps);
        Assert.True(starvedRefits <= 2, $"{starvedRefits} refits on the share alone");
        Assert.True(refits >= 4, $"{refits} refits with the age bound ({string.Join(", ", steps)})");
        // No forecast older than a fifth of the budget from the first refit into the last fifth of the run.
        for (int i = 1; i < steps.Count; i++)
            Assert.True(steps[i] - steps[i - 1] <= 1000, $"refits at {string.Join(", ", steps)}");
        Assert.True(steps[^1] >= 3000, $"refits at {string.Join(", ", steps)}");
        Assert.True(share > 0.01, $"the share this took, {share:P1}, is over 1% and reported as such");
    }

    // Checkpoints a forecaster and its tracker through JSON (as a run folder keeps them), disposes of the forecaster, lets
    // an hour pass, and resumes a new tracker and a new forecaster (made by `create` for that tracker) from them.
    private static (Forecaster, LossTracker) ThroughCheckpoint(Forecaster forecaster, LossTracker tracker, ManualClock clock, Func<LossTracker, Forecaster> create)
    {
        string saved = JsonSerializer.Serialize(forecaster.GetState()), track = JsonSerializer.Serialize(tracker.GetState());
        forecaster.Dispose();
        clock.Ticks += TimeSpan.FromHours(1).Ticks;
        var restored = new LossTracker();
        restored.Restore(JsonSerializer.Deserialize<LossTrackerState>(track)!);
        var resumed = create(restored);
        resumed.LoadState(JsonSerializer.Deserialize<ForecasterState>(saved)!);
        return (resumed, restored);
    }

    // The refit steps of a 5000-step run (100 ms a step, slow fits) with the adaptive interval; with `checkpointAt`, the
    // forecaster and tracker are checkpointed after that many steps (through JSON, as a run folder keeps them), an hour
    // passes, and new ones resume from the checkpoint.
    private static List<long> RefitStepsAcrossACheckpoint(long? checkpointAt)
    {
        const int n = 5000;
        var clock = new ManualClock();
        var schedule = Schedule.Wsd(1.0, 50, 4000, n);
        var options = new ForecasterOptions { Law = new SlowLaw(clock), TimeProvider = clock, BandSamples = 0, CalibrateBands = false, MaxForecastAge = 1, RandomStarts = 0 };
        var tracker = new LossTracker();
        var forecaster = new Forecaster(schedule, n, tracker, options);
        var steps = new List<long>();
        try
        {
            for (long step = 0; step < n; step++)
            {
                if (step == checkpointAt) (forecaster, tracker) = ThroughCheckpoint(forecaster, tracker, clock, t => new Forecaster(schedule, n, t, options));
                clock.Ticks += TimeSpan.FromMilliseconds(100).Ticks;
                tracker.Record(step, schedule.GetLearningRate(step), 3 + 2 / Math.Sqrt(1 + step));
                if (forecaster.IsRefitStep(step)) steps.Add(step);
                forecaster.OnStepEnd(step);
            }
        }
        finally
        {
            forecaster.Dispose();
        }
        return steps;
    }

    [Fact]
    public void AResumedRunRefitsWhereTheUninterruptedOneDid()
    {
        var uninterrupted = RefitStepsAcrossACheckpoint(checkpointAt: null);
        var resumed = RefitStepsAcrossACheckpoint(checkpointAt: 2550);
        Assert.True(uninterrupted.Count(step => step >= 2550) >= 3, $"refits at {string.Join(", ", uninterrupted)}");
        Assert.Equal(uninterrupted, resumed);
    }

    [Fact]
    public void AResumedRunCollectsTheRefitItsCheckpointHadPendingNoSoonerThanItsLastTimeAllows()
    {
        // Background refits, 100 ms a step; the checkpoint after step 2549 holds the refit started at 2499 (collected
        // at 2599 in the run that went on). Its last background refit took 30 s by the checkpoint's account: the one
        // started again at the resumption needs about 360 of these steps, so it is collected at the first refit step
        // after 2550 + 360, not at 2599 (where the training thread would wait for it).
        const int n = 5000, checkpointAt = 2550;
        var clock = new ManualClock();
        var schedule = Schedule.Wsd(1.0, 50, 4000, n);
        var options = new ForecasterOptions { TimeProvider = clock, BandSamples = 0, CalibrateBands = false, Background = true, MaxForecastAge = 1 };
        var losses = Enumerable.Range(0, n).Select(step => 3 + 2 / Math.Sqrt(1 + step)).ToArray();
        var tracker = new LossTracker();
        ForecasterState state;
        using (var forecaster = new Forecaster(schedule, n, tracker, options))
        {
            for (long step = 0; step < checkpointAt; step++)
            {
                clock.Ticks += TimeSpan.FromMilliseconds(100).Ticks;
                tracker.Record(step, schedule.GetLearningRate(step), losses[step]);
                forecaster.OnStepEnd(step);
            }
            state = forecaster.GetState();
        }
        Assert.Equal(2499, state.PendingStep);
        Assert.Equal(2600, state.NextRefit);
        Assert.NotNull(state.Budget);
        state = state with { Budget = state.Budget with { LastBackgroundRefit = TimeSpan.FromSeconds(30) } };
        long firstRefit = -1;
        using (var resumed = new Forecaster(schedule, n, tracker, options))
        {
            resumed.LoadState(state);
            for (long step = checkpointAt; step < n && firstRefit < 0; step++)
            {
                clock.Ticks += TimeSpan.FromMilliseconds(100).Ticks;
                tracker.Record(step, schedule.GetLearningRate(step), losses[step]);
                if (resumed.IsRefitStep(step)) firstRefit = step;
                resumed.OnStepEnd(step);
            }
            Assert.NotNull(resumed.Latest);
            Assert.Equal(2499, resumed.Latest.Step);
        }
        Assert.Equal(2999, firstRefit);
    }

    private const int FastRunSteps = 2000;

    // A TinyGpt-like run: the direct law with the parameters of a fit of a 2000-step run (peak-normalised), its plan a WSD
    // decaying from 1600, and its losses at every step.
    private static readonly double[] FastRunTruth = [0.60, 0.39, 0.24, 24, 0.84, 50, 0.0063];

    private static (WsdSchedule Plan, LossCurveLaw Law, double[] Losses) FastRun()
    {
        double[] truth = FastRunTruth;
        var plan = Schedule.Wsd(1.0, 100, 1600, FastRunSteps);
        var direct = LossCurveLaws.Create("fsl-direct");
        return (plan, direct, direct.Predict(truth, plan.SampleWithIntrinsicTime(FastRunSteps), Enumerable.Range(0, FastRunSteps).ToArray()));
    }

    // A cooldown probe of the fast run: forked at `fork`, 80 steps of a linear decay to zero, its losses the law's.
    private static CooldownProbe FastRunProbe(int fork)
    {
        var (plan, direct, _) = FastRun();
        var ramp = Enumerable.Range(1, 80).Select(i => 1 - i / 80.0).ToArray();
        var losses = direct.Predict(FastRunTruth, new SampledSchedule([.. plan.Sample(fork), .. ramp]), Enumerable.Range(fork, 80).ToArray());
        return new CooldownProbe(fork, ramp, losses);
    }

    // The fast run's forecasts (no monitor, no control) through step 999, its steps costing `stepMilliseconds` (5 ms: the
    // GPU's pace) and its law evaluations 2 ms on a manual clock; `probe`, when given, is recorded at its fork step (as
    // TinyGpt records one).
    private static List<Forecast> FastRunForecasts(CooldownProbe? probe = null, double stepMilliseconds = 5, bool expectProbe = false,
        long? checkpointAt = null)
    {
        var (plan, direct, losses) = FastRun();
        var clock = new ManualClock();
        var tracker = new LossTracker();
        var options = new ForecasterOptions { Law = new SlowLaw(clock, direct), TimeProvider = clock, BandSamples = 0, FromStep = 100 };
        var forecaster = new Forecaster(plan, FastRunSteps, tracker, options);
        try
        {
            if (expectProbe && probe != null) forecaster.ExpectProbe(probe.ForkStep, probe.LearningRates.Count);
            var forecasts = new List<Forecast>();
            for (long k = 0; k < 1000; k++)
            {
                if (k == checkpointAt) (forecaster, tracker) = ThroughCheckpoint(forecaster, tracker, clock, t => new Forecaster(plan, FastRunSteps, t, options));
                clock.Ticks += TimeSpan.FromMilliseconds(stepMilliseconds).Ticks;
                if (probe != null && k == probe.ForkStep) forecaster.AddProbe(probe);
                tracker.Record(k, plan.GetLearningRate(k), losses[k]);
                if (forecaster.OnStepEnd(k) is { } forecast) forecasts.Add(forecast);
            }
            return forecasts;
        }
        finally
        {
            forecaster.Dispose();
        }
    }

    [Fact]
    public void OnAFastRunAControllerWithDecayEvidenceGetsTheForecastsItActsOnBeforeThePlannedDecay()
    {
        // A TinyGpt-like run (the direct law's fit of a 2000-step run, peak-normalised) whose steps cost 5 ms and whose
        // law evaluations cost 2 ms: the 1% share pays for no refit, so only the age bound (a fifth of the budget)
        // refits it. A probe at step 800 (80 steps to zero) gives the decay evidence; the plan decays from 1600.
        const int n = FastRunSteps;
        var (plan, direct, losses) = FastRun();
        var probe = FastRunProbe(800);

        (List<long> Refits, IReadOnlyList<DecayDecision> Decisions) Run(bool control)
        {
            var clock = new ManualClock();
            using var monitor = new TrainingMonitor(plan, n, new TrainingMonitorOptions
            {
                Forecaster = new ForecasterOptions { Law = new SlowLaw(clock, direct), TimeProvider = clock, BandSamples = 0, FromStep = 100 },
                DecayControl = control ? new DecayControllerOptions() : null,
            });
            var refits = new List<long>();
            for (long k = 0; k < 1600; k++)
            {
                clock.Ticks += TimeSpan.FromMilliseconds(5).Ticks;
                if (k == 880) monitor.AddProbe(probe);
                if (monitor.Forecaster.IsRefitStep(k)) refits.Add(k);
                var signal = monitor.OnStepEnd(k, losses[k]);
                if (signal.HasFlag(TrainingSignal.ScheduleChanged) || monitor.Controller?.Decisions.LastOrDefault() is { StartNow: true }) break;
            }
            return (refits, monitor.Controller?.Decisions ?? []);
        }

        var (forecastOnly, _) = Run(control: false);
        var (controlled, decisions) = Run(control: true);
        // Without control: the first hindcast's refit (479), the age bound's (879), the probe's (919, the first refit step
        // after it was recorded), then the age bound alone (1319): two refits between the probe and the planned decay.
        Assert.Equal([919, 1319], forecastOnly.Where(k => k >= 880 && k < 1600));
        // With control: as many decisions with evidence as the controller needs before 1600, unless it acted sooner
        // (here: refits at 1279, 1359 and 1479, and at 1480 it starts the decay; without the requests it made one
        // decision with evidence and kept the plan, as on TinyGpt's GPU runs).
        var withEvidence = decisions.Where(d => d.HasDecayEvidence).ToList();
        bool acted = decisions.Any(d => d.StartNow || d.DecayStartStep != 1600);
        Assert.True(acted || withEvidence.Count >= new DecayControllerOptions().StableForecasts,
            $"refits {string.Join(", ", controlled)}; decisions: {string.Join("; ", decisions.Select(d => $"{d.Step} {d.Reason}"))}");
        Assert.True(controlled.Count(k => k >= 880 && k < 1600) > 2, $"refits {string.Join(", ", controlled)}");
    }

    [Fact]
    public void AProbeBringsARefitAtTheFirstRefitStepAfterItEnds()
    {
        // The fast TinyGpt-like run, forecasts only: refits at 119 and 479 (the first hindcast), then, by the age bound
        // alone, at 879. A probe forked at 600 (80 steps, recorded at its fork as TinyGpt records it) ends at 679, a refit
        // step: the forecast made there is the first with decay evidence, 200 steps before the age bound's.
        var without = FastRunForecasts();
        var with = FastRunForecasts(FastRunProbe(600));
        string Steps(List<Forecast> forecasts) => string.Join(", ", forecasts.Select(f => $"{f.Step}{(f.HasDecayEvidence ? " (evidence)" : "")}"));
        Assert.DoesNotContain(without, f => f.Step > 479 && f.Step < 879);
        var first = with.FirstOrDefault(f => f.HasDecayEvidence);
        Assert.True(first is { Step: 679 }, Steps(with));
    }

    [Fact]
    public void ARequestedRefitTakesThePlaceOfABudgetRefitDueShortlyBeforeIt()
    {
        // At a slow CPU's pace (1 s a step) the budget refits after the first hindcast (479) at some step k. A probe that
        // ends 40 steps after k asks for a refit at k + 40: the budget's refit at k would stand only until then, so the
        // requested one takes its place (the default CPU run refitted at 839 for the budget and at 879 for its probe).
        var plain = FastRunForecasts(stepMilliseconds: 1000);
        long k = plain.First(f => f.Step > 479).Step;
        var probe = FastRunProbe((int)k - 39); // forked 39 steps before k, 80 steps long: it ends at k + 40
        var forecasts = FastRunForecasts(probe, stepMilliseconds: 1000);
        string steps = string.Join(", ", forecasts.Select(f => $"{f.Step}{(f.HasDecayEvidence ? " (evidence)" : "")}"));
        Assert.DoesNotContain(forecasts, f => f.Step == k);
        Assert.Contains(forecasts, f => f.Step == k + 40 && f.HasDecayEvidence);
        Assert.True(forecasts.Count(f => f.Step > 479 && f.Step <= k + 40) == 1, $"{steps} (without the probe: {string.Join(", ", plain.Select(f => f.Step))})");
    }

    [Fact]
    public void AProbeSaidAheadTakesThePlaceOfABudgetRefitDueBeforeItForks()
    {
        // At 1 s a step the budget refits after the first hindcast (479) at some step k. A probe that forks right after k
        // (80 steps: it ends at k + 80, a refit step) asks for its refit only when it is recorded, after the budget's refit
        // at k has been made; said ahead (ExpectProbe), its refit is planned from the start and the one at k is not made
        // (the default CPU run refitted at 799 for the budget and at 879 for the probe forked at 800).
        var plain = FastRunForecasts(stepMilliseconds: 1000);
        long k = plain.First(f => f.Step > 479).Step;
        var probe = FastRunProbe((int)k + 1);
        string Steps(List<Forecast> forecasts) => string.Join(", ", forecasts.Select(f => $"{f.Step}{(f.HasDecayEvidence ? " (evidence)" : "")}"));
        var unannounced = FastRunForecasts(probe, stepMilliseconds: 1000);
        var announced = FastRunForecasts(probe, stepMilliseconds: 1000, expectProbe: true);
        Assert.True(unannounced.Any(f => f.Step == k) && unannounced.Any(f => f.Step == k + 80 && f.HasDecayEvidence), Steps(unannounced));
        Assert.DoesNotContain(announced, f => f.Step > 479 && f.Step < k + 80);
        Assert.Contains(announced, f => f.Step == k + 80 && f.HasDecayEvidence);
        Assert.True(announced.Count < unannounced.Count, $"{Steps(announced)} against {Steps(unannounced)}");
    }

    [Fact]
    public void AResumedRunKeepsTheRefitsItsExpectedProbesWillBring()
    {
        // The run of the test above, checkpointed at step 300 (before the first hindcast's refit at 479, which plans the next):
        // the resumed run refits where the uninterrupted one did, so not at the budget's k either.
        var plain = FastRunForecasts(stepMilliseconds: 1000);
        long k = plain.First(f => f.Step > 479).Step;
        var probe = FastRunProbe((int)k + 1);
        var uninterrupted = FastRunForecasts(probe, stepMilliseconds: 1000, expectProbe: true).Select(f => f.Step).ToList();
        var resumed = FastRunForecasts(probe, stepMilliseconds: 1000, expectProbe: true, checkpointAt: 300).Select(f => f.Step).ToList();
        Assert.DoesNotContain(k, uninterrupted);
        Assert.Equal(uninterrupted, resumed);
        using var forecaster = new Forecaster(FastRun().Plan, FastRunSteps, new LossTracker());
        Assert.Throws<ArgumentOutOfRangeException>(() => forecaster.ExpectProbe(800, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => forecaster.ExpectProbe(-1, 80));
    }

    [Fact]
    public void BeforeTheFirstRefitThatCanBeCheckedTheBudgetPaysForNoOther()
    {
        // The same run at a slow CPU's pace (1 s a step): the 1% share pays for a refit every few intervals, but none before
        // 479 could have a hindcast, so after the first (119) the budget's refits wait for that one and go on after it.
        var forecasts = FastRunForecasts(stepMilliseconds: 1000);
        string steps = string.Join(", ", forecasts.Select(f => $"{f.Step}{(f.Hindcast == null ? "" : " (hindcast)")}"));
        Assert.True(forecasts.Count >= 3 && forecasts[0].Step == 119, steps);
        Assert.Equal(479, forecasts[1].Step);
        Assert.NotNull(forecasts[1].Hindcast);
        Assert.True(forecasts.Any(f => f.Step > 479 && f.Step < 879), steps); // sooner than the age bound alone would refit
    }

    [Fact]
    public void OnAFastRunTheFirstRefitThatCanBeCheckedComesAsSoonAsItsHindcastHasItsPoints()
    {
        // The same TinyGpt-like fast run, forecasts only: the 1% share pays for no refit after the first (step 119, 20
        // points, too few before t²/N for a hindcast), and the age bound alone would refit next at 519. A hindcast needs 12
        // points from step 100 before t²/N, so the first possible is t ≥ √(2000·112) ≈ 473: the refit step 479.
        var forecasts = FastRunForecasts();
        string steps = string.Join(", ", forecasts.Select(f => $"{f.Step}{(f.Hindcast == null ? "" : " (hindcast)")}"));
        Assert.True(forecasts.Count >= 2 && forecasts[0].Step == 119 && forecasts[0].Hindcast == null, steps);
        Assert.Equal(479, forecasts[1].Step);
        Assert.NotNull(forecasts[1].Hindcast);
    }
}
