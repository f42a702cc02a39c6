using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tracking;
using FslTorch.Tests.TestSupport;
using Xunit;
using static TorchSharp.torch;

namespace FslTorch.Tests.Control;

// In the TorchSharp collection: these tests collect garbage from other threads beside training loops, which is what
// the gate makes safe and what would crash a TorchSharp test running beside them.
[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class FinalizerGateTests
{
    private sealed class Finalizable(Action onFinalize)
    {
        ~Finalizable() => onFinalize();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Drop(Action onFinalize) => _ = new Finalizable(onFinalize);

    [Fact]
    public void WhileClosedNoFinalizerRunsAndAllRunAfterTheLastRelease()
    {
        int finalized = 0;
        var first = FinalizerGate.Close();
        Assert.True(first.WaitParked(TimeSpan.FromSeconds(5)));
        var second = FinalizerGate.Close(); // holds nest
        Assert.True(second.WaitParked(TimeSpan.Zero));
        for (int i = 0; i < 100; i++) Drop(() => Interlocked.Increment(ref finalized));
        GC.Collect();
        Thread.Sleep(200);
        Assert.Equal(0, Volatile.Read(ref finalized));
        Assert.True(first.TryRelease());
        Assert.False(first.TryRelease()); // a hold releases once
        GC.Collect();
        Thread.Sleep(200);
        Assert.Equal(0, Volatile.Read(ref finalized)); // the other hold is still out
        Assert.True(FinalizerGate.IsClosed);
        second.Dispose();
        Assert.False(FinalizerGate.IsClosed);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(100, Volatile.Read(ref finalized));
    }

    [Fact]
    public void AFinalizerThreadBusyElsewhereKeepsTheWorkFromStartingNotTheTrainingThreadWaiting()
    {
        using var busy = new ManualResetEventSlim();
        using var entered = new ManualResetEventSlim();
        Drop(() => { entered.Set(); busy.Wait(); });
        GC.Collect();
        Assert.True(entered.Wait(TimeSpan.FromSeconds(5)));
        // The training thread is not kept waiting; the work that needs the hold learns that it cannot start.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stuck = FinalizerGate.Close();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{clock.Elapsed}");
        Assert.False(stuck.WaitParked(TimeSpan.FromMilliseconds(200)));
        stuck.Dispose();
        Assert.False(FinalizerGate.IsClosed);
        // Once the other finalizer returns, the parker queued for the refused hold returns at once, and a new hold parks.
        busy.Set();
        GC.WaitForPendingFinalizers();
        using var hold = FinalizerGate.Close();
        Assert.True(hold.WaitParked(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void AnAdamWLoopBesideAThreadCollectingGarbageSurvivesWhileTheGateIsClosed()
    {
        // Without the gate this loop crashed in AdamW.step within 1-3 s in 7 runs of 7 (TorchSharp 0.107 frees an
        // implicit Scalar while the native call still uses it).
        var model = TinyRegression.CreateModel(3);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2, weight_decay: 0.1);
        var stop = false;
        var hold = FinalizerGate.Close();
        Assert.True(hold.WaitParked(TimeSpan.FromSeconds(5)));
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect(0);
                Thread.Sleep(1);
            }
        });
        collector.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long step = 0;
        double loss = double.NaN;
        while (clock.Elapsed < TimeSpan.FromSeconds(4))
        {
            loss = TinyRegression.TrainStep(model, optimizer, step++);
            using var scaled = ones(4) * 0.5 + 1.0; // implicit scalars, as user code has them
        }
        Volatile.Write(ref stop, true);
        collector.Join();
        hold.Dispose();
        model.Dispose();
        Assert.True(step > 100, $"{step} steps");
        Assert.True(double.IsFinite(loss));
    }

    [Fact]
    public void AMonitorThatHoldsFinalizersDuringStepsKeepsAnAdamWLoopBesideAThreadCollectingGarbageAlive()
    {
        // The loop above, the hold taken and renewed by the monitor's step ends instead of by hand and the step not
        // holding it itself. With HoldFinalizersDuringSteps = false this test aborted the test host 3 times in 3 within
        // 4 s, in TorchSharp ("toFloat at Scalar.h:140", a freed implicit Scalar), as a CPU TinyGpt run once did.
        var model = TinyRegression.CreateModel(3);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2, weight_decay: 0.1);
        var monitor = new TrainingMonitor(new ConstantSchedule(1e-2), 100_000, new TrainingMonitorOptions
        {
            DecayControl = null,
            HoldFinalizersDuringSteps = true,
            Forecaster = new ForecasterOptions { RefitInterval = 50_000 },
        });
        int finalized = 0;
        var stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect(0);
                Thread.Sleep(1);
            }
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long step = 0;
        double loss = double.NaN;
        int heldAtStepEnds = 0;
        int finalizedDuringLoop = 0;
        try
        {
            collector.Start();
            while (clock.Elapsed < TimeSpan.FromSeconds(4))
            {
                loss = TinyRegression.TrainStep(model, optimizer, step, holdFinalizers: false); // the monitor's hold alone
                using var scaled = ones(4) * 0.5 + 1.0; // implicit scalars, as user code has them
                Drop(() => Interlocked.Increment(ref finalized));
                monitor.OnStepEnd(step++, loss);
                if (FinalizerGate.IsClosed) heldAtStepEnds++;
            }
            finalizedDuringLoop = Volatile.Read(ref finalized);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            if (collector.IsAlive) collector.Join();
            monitor.Dispose();
            model.Dispose();
        }
        Assert.True(step > 100, $"{step} steps");
        Assert.True(double.IsFinite(loss));
        Assert.Equal(step, heldAtStepEnds); // held from the first step end on
        // The finalizers held back ran at the step ends about once a second, not only at the end.
        Assert.True(finalizedDuringLoop > 0, $"{finalizedDuringLoop} of {step} finalized during the loop");
        // The hold's cost is measured apart, inside the monitor's.
        Assert.InRange(monitor.FinalizerHoldWallTime, TimeSpan.FromTicks(1), monitor.WallTime);
        Assert.False(FinalizerGate.IsClosed); // disposing of the monitor lets the thread go
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(Volatile.Read(ref finalized) > finalizedDuringLoop);
    }

    [Fact]
    public void AStepEndTakesTheHoldAnewOnlyAfterACollectionOrOnceTheIdleIntervalHasPassed()
    {
        // Taking the hold anew costs a collection; without one since it was taken, nothing new is held back.
        var cycle = TimeSpan.FromMilliseconds(100);
        var idle = TimeSpan.FromSeconds(1.5);
        using var hold = new StepFinalizerHold(cycle, idle, releaseAfter: TimeSpan.FromMilliseconds(300));
        hold.AtStepEnd();
        Assert.Equal(1, hold.Takes);
        Assert.True(FinalizerGate.IsClosed);

        // 1 s of step ends, 10 ms apart: every take needs a collection before it (a test beside this one may cause
        // some). Renewing the hold keeps its release (300 ms) from letting the thread go, which would make a step end
        // take it again without any collection. Before this, a hold was taken anew every cycle: 10 times here.
        int collections = GC.CollectionCount(0);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            Thread.Sleep(10);
            hold.AtStepEnd();
            Assert.True(FinalizerGate.IsClosed);
        }
        int takes = hold.Takes - 1;
        int othersCollections = GC.CollectionCount(0) - collections - takes;
        Assert.True(takes <= othersCollections, $"{takes} takes after {othersCollections} other collections");

        // A collection: the next step end a cycle later lets its finalizers run and takes the hold anew.
        int finalized = 0;
        Drop(() => Interlocked.Increment(ref finalized));
        GC.Collect(0);
        Thread.Sleep(cycle * 1.5);
        int before = hold.Takes;
        hold.AtStepEnd();
        Assert.Equal(before + 1, hold.Takes);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref finalized) == 1, TimeSpan.FromSeconds(5)));

        // Without any collection, once the idle interval has passed (for what its own collection queued behind it).
        var idleClock = System.Diagnostics.Stopwatch.StartNew();
        while (idleClock.Elapsed < idle + cycle)
        {
            Thread.Sleep(10);
            hold.AtStepEnd();
        }
        Assert.True(hold.Takes > before + 1, $"{hold.Takes - before - 1} takes in the idle interval");
    }

    [Fact]
    public void ABackgroundRefitHoldsTheGateUntilItIsCollected()
    {
        var schedule = new WsdSchedule(1e-2, 10, 250, 300, DecayShape.Linear, DecayTarget.Zero);
        var tracker = new LossTracker(new LossTrackerOptions());
        using var forecaster = new Forecaster(schedule, 300, tracker,
            new ForecasterOptions { Law = new FakeDecayLaw(0.5), RefitInterval = 25, MinPoints = 5, Background = true, BandSamples = 0, CalibrateBands = false });
        int refits = 0;
        for (long step = 0; step < 200; step++)
        {
            tracker.Record(step, schedule.GetLearningRate(step), 2 + 1 / Math.Sqrt(1 + step));
            forecaster.OnStepEnd(step);
            if (forecaster.PendingStep >= 0) refits++;
            // Between refit steps a refit is always pending and the finalizer thread held.
            Assert.Equal(forecaster.PendingStep >= 0, FinalizerGate.IsClosed);
        }
        Assert.True(refits > 100);
        forecaster.Dispose();
        Assert.False(FinalizerGate.IsClosed);
        Assert.NotNull(forecaster.Latest);
    }

    [Fact]
    public void AFinishedRefitTheLoopDoesNotComeBackForLetsTheGateGoAndLaterRefitsRunInline()
    {
        var schedule = new WsdSchedule(1e-2, 10, 250, 300, DecayShape.Linear, DecayTarget.Zero);
        var tracker = new LossTracker(new LossTrackerOptions());
        using var forecaster = new Forecaster(schedule, 300, tracker, new ForecasterOptions
        {
            Law = new FakeDecayLaw(0.5), RefitInterval = 25, MinPoints = 5, Background = true, BandSamples = 0, CalibrateBands = false,
            BackgroundReleaseTimeout = TimeSpan.FromMilliseconds(300),
        });
        long step = 0;
        for (; forecaster.PendingStep < 0; step++)
        {
            tracker.Record(step, schedule.GetLearningRate(step), 2 + 1 / Math.Sqrt(1 + step));
            forecaster.OnStepEnd(step);
        }
        Assert.True(FinalizerGate.IsClosed);
        // A loop waiting for pending finalizers: it returns once the finished refit's hold lets the thread go.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        GC.WaitForPendingFinalizers();
        Assert.InRange(waited.Elapsed.TotalSeconds, 0.2, 20);
        Assert.False(FinalizerGate.IsClosed);
        Assert.True(forecaster.BackgroundTurnedOff);
        int inline = 0;
        for (; step < 120; step++)
        {
            tracker.Record(step, schedule.GetLearningRate(step), 2 + 1 / Math.Sqrt(1 + step));
            // Inline from now on: the refit left pending is collected at the next refit step; after it every refit's
            // forecast arrives at its own step, and none is left pending.
            if (forecaster.OnStepEnd(step) is { } arrived && arrived.Step == step) inline++;
            if (step >= 49) Assert.Equal(-1, forecaster.PendingStep);
        }
        Assert.True(inline >= 2, $"{inline} inline refits");
        Assert.False(FinalizerGate.IsClosed);
    }

    [Fact]
    public void ATrainingLoopWithBackgroundRefitsSurvivesCollectionsFromAnotherThreadWhileEachRefitRuns()
    {
        // Another thread collects garbage exactly while a background refit is pending and may allocate, as the refit's
        // own allocations would. With a gate that did not hold the finalizer thread, the loop crashed in 3 runs of 6 here (a freed
        // Scalar in AdamW.step); AnAdamWLoopBeside… caught it 3 times of 3; this one checks that the forecaster holds it.
        const long steps = 2000;
        var schedule = new WsdSchedule(1e-2, 20, 1800, steps, DecayShape.Linear, DecayTarget.Zero);
        var model = TinyRegression.CreateModel(4);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var scheduler = new FslScheduler(optimizer, schedule);
        using var monitor = scheduler.Monitor(new TrainingMonitorOptions
        {
            Forecaster = new ForecasterOptions { Law = LossCurveLaws.Default, RefitInterval = 100, MinPoints = 5, FromStep = 20, Background = true, CalibrateBands = false },
            DecayControl = null,
        });
        var sync = new object();
        bool collecting = false, done = false;
        long collections = 0;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                lock (sync)
                {
                    // As the refit's own allocations: only once the finalizer thread is parked (the refit waits for that).
                    if (collecting && FinalizerGate.IsParked)
                    {
                        GC.Collect(0);
                        collections++;
                    }
                }
                Thread.Sleep(1);
            }
        });
        collector.Start();
        int forecasts = 0;
        for (long step = 0; step < steps; step++)
        {
            double loss = TinyRegression.TrainStep(model, optimizer, step);
            scheduler.step();
            if (monitor.Forecaster.IsRefitStep(step))
            {
                lock (sync) collecting = false; // the refit in flight is collected at this step and the gate opens
            }
            if (monitor.OnStepEnd(step, loss).HasFlag(TrainingSignal.Forecast)) forecasts++;
            if (monitor.Forecaster.PendingStep >= 0)
            {
                lock (sync) collecting = true;
            }
        }
        lock (sync) collecting = false;
        Volatile.Write(ref done, true);
        collector.Join();
        monitor.OnRunEnd(steps - 1);
        model.Dispose();
        Assert.False(FinalizerGate.IsClosed);
        Assert.True(forecasts >= 5, $"{forecasts} forecasts");
        Assert.True(collections > 200, $"{collections} collections beside the loop");
    }

    [Fact]
    public void InTheBackgroundTheNextRefitComesOnlyOnceTheLastFitsTimeHasPassed()
    {
        // Fits of about 60 ms of real time (a law that sleeps) beside a loop of 1 ms steps on its own clock: refits every 40
        // steps (the default 2% of 2000) would wait for each fit at the next refit step; spaced by the measured fit time
        // they are about 60 steps apart or more.
        const int n = 2000;
        var clock = new ManualClock();
        var schedule = Schedule.Wsd(1.0, 50, 1600, n);
        var tracker = new LossTracker();
        using var forecaster = new Forecaster(schedule, n, tracker, new ForecasterOptions
        {
            Law = new SleepyLaw(TimeSpan.FromMilliseconds(60)), TimeProvider = clock, Background = true, BandSamples = 0, CalibrateBands = false, MaxForecastAge = 1,
        });
        var refitSteps = new List<long>();
        for (long step = 0; step < n; step++)
        {
            Interlocked.Add(ref clock.Ticks, TimeSpan.FromMilliseconds(1).Ticks);
            tracker.Record(step, schedule.GetLearningRate(step), 3 + 2 / Math.Sqrt(1 + step));
            if (forecaster.IsRefitStep(step)) refitSteps.Add(step);
            forecaster.OnStepEnd(step);
        }
        forecaster.Dispose();
        Assert.True(refitSteps.Count >= 5, string.Join(", ", refitSteps));
        Assert.Equal(40, forecaster.RefitInterval);
        // Once a slow fit has been measured (the first fit, from no warm start, fails fast here), no two refit steps are
        // closer than its time at the loop's pace.
        var gaps = refitSteps.Zip(refitSteps.Skip(1), (a, b) => b - a).Skip(2).ToList();
        Assert.All(gaps, gap => Assert.True(gap >= 60, $"refit steps {string.Join(", ", refitSteps)}"));
        Assert.True(forecaster.BackgroundWallTime >= TimeSpan.FromMilliseconds(60) * (refitSteps.Count - 1));
    }

    /// <summary>The momentum law, whose every fit takes at least <c>fitTime</c> of real time (its first evaluation of each fit sleeps).</summary>
    private sealed class SleepyLaw(TimeSpan fitTime) : LossCurveLaw
    {
        private readonly MomentumLaw _inner = new();
        public override string Name => _inner.Name;
        public override string Formula => _inner.Formula;
        public override IReadOnlyList<LawParameter> Parameters => _inner.Parameters;
        public override IReadOnlyList<string> DecayResponseParameters => _inner.DecayResponseParameters;
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha)
        {
            Thread.Sleep(fitTime); // once per fit: every fit starts from its guesses
            return _inner.InitialGuesses(l0, a, alpha);
        }
        public override LossCurveLaw WithKernelTolerance(double tolerance) => this;
        public override LossCurveLaw WithSourceBlocks(double fraction) => this;
        protected override void ConvertLearningRateUnitCore(double[] parameters, double ratio) =>
            _inner.ConvertLearningRateUnit(parameters, ratio).CopyTo(parameters, 0);
        protected override void EvaluateCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
        {
            _inner.Evaluate(p, schedule, steps, losses, jacobian);
        }
        protected override void PredictExactCore(ReadOnlySpan<double> p, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            EvaluateCore(p, schedule, steps, losses, Span<double>.Empty);
    }

    [Fact]
    public void InTheBackgroundTheDecisionsAreMadeOffTheTrainingThreadAndDoNotDependOnTiming()
    {
        // With calibrated bands the controller's decision from a background refit's forecast is made in the refit's task;
        // the training thread then evaluates the law not at all. Inline, every fit and decision runs on it.
        static (List<(long, bool, long, double)> Decisions, int OnTrainingThread) Run(bool background)
        {
            var law = new CountingLaw(new FakeDecayLaw(0.6), Environment.CurrentManagedThreadId);
            var schedule = new WsdSchedule(1e-2, 20, 285, 300, DecayShape.Linear, DecayTarget.Zero);
            using var monitor = new TrainingMonitor(schedule, 300, new TrainingMonitorOptions
            {
                Forecaster = new ForecasterOptions { Law = law, RefitInterval = 25, MinPoints = 5, FromStep = 20, Background = background, BandSamples = 0 },
                DecayControl = new DecayControllerOptions { RequireDecayEvidence = false },
            });
            for (long step = 0; step < 300; step++)
            {
                // Each refit's task finishes before the next refit step collects it, as in a loop whose steps take longer
                // than a fit (a task the thread pool has not started by then runs on the collecting thread, as a
                // waited-on task does).
                if (monitor.Forecaster.IsRefitStep(step)) Assert.True(SpinWait.SpinUntil(() => monitor.Forecaster.IsPendingDone, TimeSpan.FromSeconds(30)));
                monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step));
            }
            Assert.True(SpinWait.SpinUntil(() => monitor.Forecaster.IsPendingDone, TimeSpan.FromSeconds(30)));
            monitor.OnRunEnd(299);
            return (monitor.Controller!.Decisions.Select(d => (d.Step, d.StartNow, d.DecayStartStep, d.PredictedFinalLoss)).ToList(), law.OnTrainingThread);
        }

        var (inline, inlineEvaluations) = Run(background: false);
        var (first, firstEvaluations) = Run(background: true);
        var (second, _) = Run(background: true);
        Assert.True(inline.Count >= 5 && first.Count >= 5, $"{inline.Count} and {first.Count} decisions");
        Assert.True(inlineEvaluations > 100, $"{inlineEvaluations} evaluations on the training thread inline");
        Assert.Equal(0, firstEvaluations);
        Assert.Equal(first, second);
    }

    /// <summary>A law that counts its evaluations on one thread (the training thread).</summary>
    private sealed class CountingLaw(LossCurveLaw inner, int thread) : DelegatingLaw(inner)
    {
        public int OnTrainingThread;
        protected override void BeforeEvaluate()
        {
            if (Environment.CurrentManagedThreadId == thread) Interlocked.Increment(ref OnTrainingThread);
        }
    }
}
