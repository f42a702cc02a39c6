using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tests.Control;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FslTorch.Tests.Reliability;

/// <summary>Nothing FslTorch does during training may reach the user's loop; a decision is applied only whole.</summary>
[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class MonitorBoundaryTests
{
    private const long Steps = 300;

    private static WsdSchedule Schedule() => new(1e-2, 20, 285, Steps, DecayShape.Linear, DecayTarget.Zero);

    private static TrainingMonitorOptions Options(LossCurveLaw law, bool background = false) => new()
    {
        Forecaster = new ForecasterOptions { Law = law, RefitInterval = 25, MinPoints = 5, FromStep = 20, Background = background, BandSamples = 0, CalibrateBands = false },
        DecayControl = new DecayControllerOptions { RequireDecayEvidence = false },
    };

    /// <summary>A logger whose sink fails: every call throws (from IsEnabled too, when asked).</summary>
    private sealed class ThrowingLogger(bool fromIsEnabled = false) : ILogger
    {
        public int Calls;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => throw new IOException("the log sink is gone");
        public bool IsEnabled(LogLevel logLevel) => fromIsEnabled ? throw new IOException("the log sink is gone") : true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Calls++;
            throw new IOException("the log sink is gone");
        }
    }

    private static (WsdSchedule Schedule, TrainingMonitor Monitor) Replay(ILogger? logger, bool background)
    {
        var monitor = new TrainingMonitor(Schedule(), Steps, Options(new FakeDecayLaw(0.6), background), logger);
        for (long step = 0; step < Steps; step++) monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step));
        monitor.Dispose();
        return ((WsdSchedule)monitor.Schedule, monitor);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void AThrowingLoggerNeverReachesTheLoopAndChangesNoDecision(bool background, bool fromIsEnabled)
    {
        var logger = new ThrowingLogger(fromIsEnabled);
        var (schedule, monitor) = Replay(logger, background);
        var (quietSchedule, quiet) = Replay(null, background);
        Assert.True(fromIsEnabled || logger.Calls > 0, "the logger was never called, so the test proves nothing");
        // Every decision was made, applied and recorded exactly as without the failing logger.
        Assert.NotEmpty(quiet.Controller!.Decisions);
        Assert.Equal(quiet.Controller.Decisions.Select(d => (d.Step, d.DecayStartStep, d.StartNow)), monitor.Controller!.Decisions.Select(d => (d.Step, d.DecayStartStep, d.StartNow)));
        Assert.Equal(quietSchedule.DecayStartStep, schedule.DecayStartStep);
        Assert.Equal(monitor.Controller.Decisions[^1].DecayStartStep, schedule.DecayStartStep);
    }

    [Fact]
    public void ALawThatThrowsAnythingDuringARefitLeavesThePlanAndTheLoopAlone()
    {
        // NullReferenceException is no "expected" exception type: it must still stay inside the monitor.
        var schedule = Schedule();
        var monitor = new TrainingMonitor(schedule, Steps, Options(new BrokenLaw()));
        for (long step = 0; step < Steps; step++)
        {
            Assert.Equal(TrainingSignal.None, monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step)));
        }
        Assert.Null(monitor.LatestForecast);
        Assert.Same(schedule, monitor.Schedule);
    }

    [Fact]
    public void AMoveThatFailsRecordsNoDecision()
    {
        // A loop that jumped its scheduler ahead (step(250)) while the monitor still decides at step 100: the
        // controller wants the decay to start now (step 101), which the scheduler refuses as the past. The refusal
        // is logged, no decision is recorded, and the schedule stays.
        using var model = TorchSharp.torch.nn.Linear(2, 1);
        using var optimizer = TorchSharp.torch.optim.SGD(model.parameters(), 1e-2);
        var scheduler = new FslScheduler(optimizer, Schedule());
        var logger = new CountingLogger();
        var monitor = scheduler.Monitor(Options(new FakeDecayLaw(0.05)) with
        {
            DecayControl = new DecayControllerOptions { RequireDecayEvidence = false, StableForecasts = 1, HindcastTolerance = double.PositiveInfinity },
        }, logger);
        scheduler.step(250);
        var signals = Enumerable.Range(0, 101).Select(step => monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step))).ToList();
        Assert.Contains(signals, s => s.HasFlag(TrainingSignal.Forecast));
        Assert.DoesNotContain(signals, s => s.HasFlag(TrainingSignal.ScheduleChanged));
        Assert.True(logger.Count(2) > 0, "no refused move was logged"); // DecayDecisionFailed
        // Only the decisions that kept the plan (in the minimum stable phase) were recorded.
        Assert.All(monitor.Controller!.Decisions, d => Assert.Equal((false, 285L), (d.StartNow, d.DecayStartStep)));
        Assert.Equal(285, ((WsdSchedule)scheduler.Schedule).DecayStartStep);
    }

    [Fact]
    public void ARunWhoseLossStaysNaNIsSignalledOnceAndStopsDeciding()
    {
        var schedule = Schedule();
        var logger = new CountingLogger();
        // No decision can move the plan (too few stable forecasts ever), so the decisions go on past the NaNs: this test
        // is about the NaNs, not about where the decay starts.
        var monitor = new TrainingMonitor(schedule, Steps, Options(new FakeDecayLaw(0.6)) with
        {
            MaxNonFiniteLosses = 10,
            DecayControl = new DecayControllerOptions { RequireDecayEvidence = false, StableForecasts = 100 },
        }, logger);
        var signals = new List<TrainingSignal>();
        for (long step = 0; step < Steps; step++)
        {
            double loss = step >= 100 && step < 200 ? double.NaN : 2 + 1 / Math.Sqrt(1 + step);
            signals.Add(monitor.OnStepEnd(step, loss));
        }
        // Steps 100..108 are tolerated; from the 10th NaN (step 109) to the last (199) the loop is told; finite losses end it.
        Assert.All(signals.Take(109), s => Assert.False(s.HasFlag(TrainingSignal.Diverged)));
        Assert.All(signals.Skip(109).Take(91), s => Assert.True(s.HasFlag(TrainingSignal.Diverged)));
        Assert.All(signals.Skip(200), s => Assert.False(s.HasFlag(TrainingSignal.Diverged)));
        Assert.Equal(1, logger.Count(8));
        // No decision while diverged (refits at steps 124, 149, 174, 199 fall inside).
        Assert.DoesNotContain(monitor.Controller!.Decisions, d => d.Step > 109 && d.Step <= 200);
        Assert.Contains(monitor.Controller.Decisions, d => d.Step > 200);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingMonitor(schedule, Steps, new TrainingMonitorOptions { MaxNonFiniteLosses = 0 }));
    }

    [Fact]
    public void ADecisionAtAMillionStepsAllocatesNoTrajectoryPerCandidate()
    {
        // 48 candidates and 16 uncertainty draws of two trajectories each: one array of the budget per candidate
        // would allocate 80 × 2 × 8 bytes × N. The bound allows the shared buffer (2 × 8 × N) and small change.
        const long n = 200_000;
        var law = LossCurveLaws.Default;
        var theta = ParameterPrior.BuiltIn(law).Mean.ToArray();
        int p = theta.Length;
        var covariance = new double[p, p];
        for (int i = 0; i < p; i++) covariance[i, i] = 1e-4;
        var fit = new FitResult(law, 1e-3, theta, 0, FitExitReason.Converged, 1, TimeSpan.Zero, new double[p], covariance, "test");
        var schedule = new WsdSchedule(1e-3, 2_000, 160_000, n);
        var controller = new WsdDecayController(schedule);
        // Warm up (JIT, quadrature caches) with decisions that make the next one's forecasts stable, so that it draws
        // the gain's uncertainty.
        for (long step = 92_000; step <= 100_000; step += 4_000) controller.Commit(controller.Evaluate(step, schedule, fit, step + 4_000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var decision = controller.Evaluate(104_000, schedule, fit, 108_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.NotNull(decision);
        Assert.True(decision!.GainUncertainty > 0, "the uncertainty draws did not run, so the bound proves less");
        Assert.InRange(allocated, 0, 4 * 8 * n);
    }

    [Fact]
    public void TheSharedTrajectoryBufferEqualsAFreshSampleForEveryStartInAnyOrder()
    {
        var wsd = new WsdSchedule(2e-3, 50, 700, 1000, DecayShape.OneMinusSqrt, DecayTarget.Zero);
        var buffer = new WsdTrajectoryBuffer(wsd, 1e-3);
        foreach (long start in new long[] { 700, 900, 300, 300, 999, 50, 650 })
        {
            var filled = buffer.Fill(start);
            var fresh = FitResult.Normalise(wsd.WithDecayStart(start).Sample(1000), 1e-3);
            Assert.Equal(fresh.LearningRates.ToArray(), filled.LearningRates.ToArray());
            Assert.Equal(fresh.IntrinsicTime.ToArray(), filled.IntrinsicTime.ToArray());
        }
    }

    [Fact]
    public void ARefitThatRunsPastItsTimeLimitIsGivenUpAndThePreviousForecastStays()
    {
        // The law turns slow after the first refit: each evaluation then takes 100 ms, so a refit (tens of evaluations at least)
        // would hold the loop for many seconds; the limit gives it up after 0.3 s.
        var law = new SlowAfterwardsLaw(new FakeDecayLaw(0.6));
        var logger = new CountingLogger();
        var options = Options(law) with { Forecaster = Options(law).Forecaster with { FitTimeLimit = TimeSpan.FromMilliseconds(300) } };
        using var monitor = new TrainingMonitor(Schedule(), Steps, options, logger);
        long step = 0;
        for (; monitor.LatestForecast == null; step++) monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step));
        var first = monitor.LatestForecast;
        law.Slow = true;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (long end = step + 30; step < end; step++) Assert.Equal(TrainingSignal.None, monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step)) & ~TrainingSignal.Forecast);
        clock.Stop();
        Assert.Same(first, monitor.LatestForecast);
        Assert.True(logger.Count(13) >= 1, "the refit past its limit was not logged");
        Assert.True(law.SlowEvaluations > 0, "no refit ran while the law was slow");
        // One refit step in these 30 steps: it stops within the limit plus one evaluation, far from what it would take.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the steps took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingMonitor(Schedule(), Steps, Options(law) with
        {
            Forecaster = Options(law).Forecaster with { FitTimeLimit = TimeSpan.Zero },
        }));
    }

    /// <summary>A law that evaluates as another does, each evaluation taking 100 ms of real time once <see cref="Slow"/> is set.</summary>
    private sealed class SlowAfterwardsLaw(LossCurveLaw inner) : TestSupport.DelegatingLaw(inner)
    {
        public volatile bool Slow;
        public int SlowEvaluations;
        protected override void BeforeEvaluate()
        {
            if (!Slow) return;
            Interlocked.Increment(ref SlowEvaluations);
            Thread.Sleep(100);
        }
    }

    private sealed class CountingLogger : ILogger
    {
        private readonly List<int> _events = [];
        public int Count(int eventId) => _events.Count(e => e == eventId);
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => _events.Add(eventId.Id);
    }

    /// <summary>A law whose evaluation fails with an exception no caller expects.</summary>
    private sealed class BrokenLaw : LossCurveLaw
    {
        public override string Name => "broken";
        public override string Formula => "throws";
        public override IReadOnlyList<LawParameter> Parameters { get; } = [new("L0", "offset")];
        public override IReadOnlyList<string> DecayResponseParameters => [];
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => [[l0]];
        protected override void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian) =>
            throw new NullReferenceException("a bug inside a law");
        protected override void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            throw new NullReferenceException("a bug inside a law");
    }
}
