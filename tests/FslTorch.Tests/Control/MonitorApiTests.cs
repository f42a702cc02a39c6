using FslTorch.Control;
using FslTorch.Schedules;
using Xunit;
using static TorchSharp.torch;

namespace FslTorch.Tests.Control;

/// <summary>The entry points a TorchSharp loop uses: scheduler.Monitor(), losses as doubles or tensors, and the signals.</summary>
[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class MonitorApiTests
{
    private const long Steps = 300;

    private static WsdSchedule Plan() => new(1e-2, 20, 285, Steps, DecayShape.Linear, DecayTarget.Zero);

    private static TrainingMonitorOptions Options() => new()
    {
        Forecaster = new ForecasterOptions { Law = new FakeDecayLaw(0.6), RefitInterval = 25, MinPoints = 5, FromStep = 20, BandSamples = 0, CalibrateBands = false },
        DecayControl = new DecayControllerOptions { RequireDecayEvidence = false },
        LossReadInterval = 7,
    };

    private static double Loss(long step) => 2 + 1 / Math.Sqrt(1 + step);

    [Fact]
    public void LossTensorsGiveTheSameForecastsAndDecisionsAsDoubles()
    {
        using var model = nn.Linear(2, 1);
        using var optimizerA = optim.SGD(model.parameters(), 1e-2);
        using var optimizerB = optim.SGD(model.parameters(), 1e-2);
        var schedulerA = new FslScheduler(optimizerA, Plan());
        var schedulerB = new FslScheduler(optimizerB, Plan());
        using var doubles = schedulerA.Monitor(Options());
        using var tensors = schedulerB.Monitor(Options());
        var signalsA = new List<TrainingSignal>();
        var signalsB = new List<TrainingSignal>();
        for (long step = 0; step < Steps; step++)
        {
            schedulerA.step();
            schedulerB.step();
            signalsA.Add(doubles.OnStepEnd(step, Loss(step)));
            using (var scope = NewDisposeScope())
            {
                var loss = tensor(Loss(step), dtype: ScalarType.Float64); // disposed with the scope, right after the call
                signalsB.Add(tensors.OnStepEnd(step, loss));
            }
        }
        doubles.OnRunEnd(Steps - 1);
        tensors.OnRunEnd(Steps - 1);
        Assert.NotEmpty(doubles.Controller!.Decisions);
        Assert.Equal(doubles.Controller.Decisions.Select(d => (d.Step, d.StartNow, d.DecayStartStep, d.PredictedFinalLoss)),
            tensors.Controller!.Decisions.Select(d => (d.Step, d.StartNow, d.DecayStartStep, d.PredictedFinalLoss)));
        Assert.Equal(((WsdSchedule)schedulerA.Schedule).DecayStartStep, ((WsdSchedule)schedulerB.Schedule).DecayStartStep);
        Assert.Equal(doubles.Tracker.Smoothed, tensors.Tracker.Smoothed);
        // Forecasts and decisions arrive at refit steps, where the tensor path reads its losses: the same steps.
        Assert.Equal(Flagged(signalsA, TrainingSignal.Forecast), Flagged(signalsB, TrainingSignal.Forecast));
        Assert.Equal(Flagged(signalsA, TrainingSignal.Decision), Flagged(signalsB, TrainingSignal.Decision));
    }

    [Fact]
    public void EveryStepEndChargesWhatTheForecasterDidNotCountToItsShareAsLoopWork()
    {
        // The monitor's whole cost (tracking, refits, decisions, the hold) is the forecaster's work plus the loop work
        // charged to its share: with losses as doubles and as tensors.
        using var doubles = new TrainingMonitor(Plan(), Steps, Options() with { HoldFinalizersDuringSteps = true });
        using var tensors = new TrainingMonitor(Plan(), Steps, Options());
        for (long step = 0; step < Steps; step++)
        {
            doubles.OnStepEnd(step, Loss(step));
            using var scope = NewDisposeScope();
            tensors.OnStepEnd(step, tensor(Loss(step), dtype: ScalarType.Float64));
        }
        foreach (var monitor in new[] { doubles, tensors })
        {
            Assert.NotNull(monitor.LatestForecast);
            Assert.True(monitor.Forecaster.LoopWallTime > TimeSpan.Zero);
            Assert.Equal(monitor.WallTime, monitor.Forecaster.WallTime + monitor.Forecaster.LoopWallTime);
        }
    }

    private static List<int> Flagged(List<TrainingSignal> signals, TrainingSignal flag) =>
        Enumerable.Range(0, signals.Count).Where(i => signals[i].HasFlag(flag)).ToList();

    [Fact]
    public void SignalsSayWhatChangedSoTheLoopKeepsNoBookkeeping()
    {
        using var monitor = new TrainingMonitor(Plan(), Steps, Options());
        Forecast? last = null;
        int decisions = 0;
        for (long step = 0; step < Steps; step++)
        {
            var signal = monitor.OnStepEnd(step, Loss(step));
            Assert.Equal(!ReferenceEquals(last, monitor.LatestForecast), signal.HasFlag(TrainingSignal.Forecast));
            Assert.Equal(monitor.Controller!.Decisions.Count != decisions, signal.HasFlag(TrainingSignal.Decision));
            last = monitor.LatestForecast;
            decisions = monitor.Controller.Decisions.Count;
        }
        Assert.True(decisions > 0);
    }

    [Fact]
    public void DecayControlNeedsAWsdScheduleAndSaysSo()
    {
        var cosine = Schedule.WarmupCosine(1e-2, 20, Steps, DecayTarget.FractionOfPeak(0.1));
        var error = Assert.Throws<ArgumentException>(() => new TrainingMonitor(cosine, Steps));
        Assert.Contains("DecayControl = null", error.Message);
        using var forecastsOnly = new TrainingMonitor(cosine, Steps, new TrainingMonitorOptions { DecayControl = null });
        Assert.Null(forecastsOnly.Controller);
        // A plain WsdSchedule is enough: no wrapper, the scheduler holds and replaces it.
        using var monitor = new TrainingMonitor(Plan(), Steps);
        Assert.NotNull(monitor.Controller);
        Assert.Throws<ArgumentException>(() => new TrainingMonitor(Plan(), Steps + 1)); // the budget given twice must agree

        using var model = nn.Linear(2, 1);
        using var optimizer = optim.SGD(model.parameters(), 1e-2);
        Assert.Equal(Steps, new FslScheduler(optimizer, Plan()).Monitor().TotalSteps); // the budget known once
        Assert.Throws<ArgumentException>(() => new FslScheduler(optimizer, cosine).Monitor());
        Assert.Equal(Steps, new FslScheduler(optimizer, cosine).Monitor(Steps, new TrainingMonitorOptions { DecayControl = null }).TotalSteps);
    }
}
