using System.Text.Json;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FslTorch.Tests.Control;

[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class TrainingMonitorTests
{
    private const long Steps = 300;

    private static WsdSchedule Schedule() => new(1e-2, 20, 285, Steps, DecayShape.Linear, DecayTarget.Zero);

    // These tests check the mechanics of control (moving, freezing, resuming, stopping) with fake laws, so the
    // controller does not ask for decay evidence nor check the law's extrapolation (the tiny model's squared errors
    // scatter more than they fall over a hindcast's span, so no check would count), and bands stay uncalibrated;
    // CalibratedForecastTests and WsdDecayControllerTests cover those rules.
    private static TrainingMonitorOptions Options(LossCurveLaw law, bool background = false, EarlyStoppingOptions? stopping = null, ParameterPrior? prior = null) => new()
    {
        Forecaster = new ForecasterOptions
        {
            Law = law, RefitInterval = 25, MinPoints = 5, FromStep = 20, Background = background, BandSamples = 0, CalibrateBands = false, Prior = prior,
        },
        DecayControl = new DecayControllerOptions { RequireDecayEvidence = false, HindcastTolerance = double.PositiveInfinity },
        EarlyStopping = stopping ?? new EarlyStoppingOptions(),
    };

    /// <summary>Trains the tiny model with the drop-in scheduler and a monitor; optionally checkpoints and resumes.</summary>
    private static (List<double> Rates, List<DecayDecision> Decisions, WsdSchedule Schedule, long LastStep) Train(
        LossCurveLaw law, Func<long, double, double>? corruptLoss = null, long? checkpointAt = null, bool background = false,
        EarlyStoppingOptions? stopping = null, ParameterPrior? prior = null)
    {
        string? folder = checkpointAt.HasValue ? Directory.CreateTempSubdirectory("fsltorch-monitor-").FullName : null;
        try
        {
            var rates = new List<double>();
            var (model, optimizer, scheduler, monitor) = Create(law, background, stopping, seed: 5, prior);
            long step = 0;
            for (; step < Steps; step++)
            {
                if (step == checkpointAt)
                {
                    model.save(Path.Combine(folder!, "model.bin"));
                    optimizer.save_state_dict(Path.Combine(folder!, "optimizer.bin"));
                    scheduler.SaveStateFile(Path.Combine(folder!, "scheduler.json"));
                    monitor.SaveStateFile(Path.Combine(folder!, "monitor.json"));
                    monitor.Dispose();
                    model.Dispose();
                    optimizer.Dispose();
                    // A fresh process would start here: new objects (another seed), then restore.
                    (model, optimizer, scheduler, monitor) = Create(law, background, stopping, seed: 77, prior);
                    model.load(Path.Combine(folder!, "model.bin"));
                    optimizer.load_state_dict(Path.Combine(folder!, "optimizer.bin"));
                    scheduler.LoadStateFile(Path.Combine(folder!, "scheduler.json"));
                    monitor.LoadStateFile(Path.Combine(folder!, "monitor.json"));
                }
                rates.Add(optimizer.ParamGroups.Single().LearningRate);
                double loss = TinyRegression.TrainStep(model, optimizer, step);
                scheduler.step();
                if (corruptLoss != null) loss = corruptLoss(step, loss);
                if (monitor.OnStepEnd(step, loss).HasFlag(TrainingSignal.Stop)) break;
            }
            monitor.OnRunEnd(step);
            var decisions = monitor.Controller!.Decisions.ToList();
            model.Dispose();
            optimizer.Dispose();
            return (rates, decisions, (WsdSchedule)scheduler.Schedule, step);
        }
        finally
        {
            if (folder != null) Directory.Delete(folder, recursive: true);
        }
    }

    private static (nn.Module<Tensor, Tensor>, TorchSharp.Modules.AdamW, FslScheduler, TrainingMonitor) Create(
        LossCurveLaw law, bool background, EarlyStoppingOptions? stopping, long seed, ParameterPrior? prior = null)
    {
        var model = TinyRegression.CreateModel(seed);
        var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var scheduler = new FslScheduler(optimizer, Schedule());
        var monitor = scheduler.Monitor(Options(law, background, stopping, prior));
        return (model, optimizer, scheduler, monitor);
    }

    [Fact]
    public void TheDecayStartMovesToTheForecastOptimumAndPastRatesNeverChange()
    {
        var (rates, decisions, schedule, _) = Train(new FakeDecayLaw(0.6));
        // The fake law's optimum is a 40% cooldown (start 180); with the margin the controller starts a little earlier.
        Assert.Contains(decisions, d => d.StartNow);
        long start = decisions.Single(d => d.StartNow).DecayStartStep;
        Assert.InRange(start, 100, 185);
        Assert.Equal(start, schedule.DecayStartStep);
        Assert.All(decisions, d => Assert.True(d.DecayStartStep >= d.Step));
        // The rate the optimizer used at every step equals the final schedule's: no past step was rewritten.
        for (int k = 0; k < rates.Count; k++) Assert.Equal(schedule.GetLearningRate(k), rates[k], 15);
    }

    [Fact]
    public void NaNLossesAndFailingFitsNeverThrowAndLeaveTheScheduleAlone()
    {
        var (rates, decisions, schedule, last) = Train(new FakeDecayLaw(0.6, throws: true), (step, loss) => step % 7 == 0 ? double.NaN : loss);
        Assert.Equal(Steps, last);
        Assert.Empty(decisions);
        Assert.Equal(285, schedule.DecayStartStep);
        Assert.Equal(Steps, rates.Count);
    }

    [Fact]
    public void AResumedRunMakesTheSameDecisions()
    {
        var law = new FakeDecayLaw(0.6);
        var (ratesWhole, decisionsWhole, _, _) = Train(law);
        var (ratesResumed, decisionsResumed, _, _) = Train(law, checkpointAt: 137);
        Assert.Equal(ratesWhole, ratesResumed);
        Assert.Equal(
            JsonSerializer.Serialize(decisionsWhole.Select(d => (d.Step, d.StartNow, d.DecayStartStep))),
            JsonSerializer.Serialize(decisionsResumed.Select(d => (d.Step, d.StartNow, d.DecayStartStep))));
        Assert.NotEmpty(decisionsWhole);
    }

    [Fact]
    public void AResumedRunWithRealFitsMakesTheSameDecisionsAndForecasts()
    {
        var (ratesWhole, decisionsWhole, _, _) = Train(LossCurveLaws.Default);
        var (ratesResumed, decisionsResumed, _, _) = Train(LossCurveLaws.Default, checkpointAt: 137);
        Assert.Equal(ratesWhole, ratesResumed);
        Assert.NotEmpty(decisionsWhole);
        Assert.Equal(decisionsWhole.Count, decisionsResumed.Count);
        for (int i = 0; i < decisionsWhole.Count; i++)
        {
            Assert.Equal(decisionsWhole[i].Step, decisionsResumed[i].Step);
            Assert.Equal(decisionsWhole[i].DecayStartStep, decisionsResumed[i].DecayStartStep);
            Assert.Equal(decisionsWhole[i].PredictedFinalLoss, decisionsResumed[i].PredictedFinalLoss);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BackgroundRefitsDecideLikeInlineOnesOneIntervalLaterAndResumeIdentically(bool checkpoint)
    {
        // No TorchSharp here (see TorchSharpCollection): a synthetic loss stream drives two monitors.
        static List<DecayDecision> Replay(bool background, long? checkpointAt)
        {
            var monitor = new TrainingMonitor(Schedule(), Steps, Options(new FakeDecayLaw(0.6), background));
            for (long step = 0; step < Steps; step++)
            {
                if (step == checkpointAt)
                {
                    string json = JsonSerializer.Serialize(monitor.GetState(), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
                    monitor.Dispose();
                    // A new process: the schedule in force (saved with the scheduler's state), then the monitor's state.
                    long start = ((WsdSchedule)monitor.Schedule).DecayStartStep;
                    monitor = new TrainingMonitor(Schedule().WithDecayStart(start), Steps, Options(new FakeDecayLaw(0.6), background));
                    monitor.LoadState(JsonSerializer.Deserialize<TrainingMonitorState>(json, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })!);
                }
                monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step));
            }
            monitor.Dispose();
            return monitor.Controller!.Decisions.ToList();
        }

        var inline = Replay(background: false, checkpointAt: null);
        var background = Replay(background: true, checkpoint ? 137 : null);
        // A background fit started at one refit step is used at the next one, so the background run misses only
        // the first decision; the fake law's decisions depend on the step alone, so the rest coincide — except
        // that the background run trusts its forecasts (enough stable ones in a row) one decision later, and
        // until then leaves the plan where it was.
        Assert.NotEmpty(background);
        Assert.Equal(inline.Skip(1).Select(d => (d.Step, d.StartNow)), background.Select(d => (d.Step, d.StartNow)));
        int trusted = new DecayControllerOptions().StableForecasts;
        Assert.Equal(inline.Skip(1 + trusted).Select(d => d.DecayStartStep), background.Skip(trusted).Select(d => d.DecayStartStep));
    }

    [Fact]
    public void AbortModeStopsARunThatCannotReachItsThreshold()
    {
        // The fake law forecasts at least L0 = 3.0 at the end; a threshold of 1.0 cannot be reached.
        var stopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Abort, Threshold = 1.0, Patience = 2 };
        var (_, _, _, last) = Train(new FakeDecayLaw(0.6), stopping: stopping);
        Assert.True(last < Steps - 1, $"stopped at {last}");
        // With a reachable threshold it runs to the end.
        var (_, _, _, full) = Train(new FakeDecayLaw(0.6), stopping: stopping with { Threshold = 3.5 });
        Assert.Equal(Steps, full);
    }

    [Fact]
    public void AReferenceRunsForecastErrorsWidenTheAbortBandAtTheSameFractionOfTheBudget()
    {
        // The fake law forecasts 3.0 at the end and the threshold is 1.0: a reference run that erred by 2.5 everywhere
        // keeps every lower band (0.5) below the threshold; one that erred by 2.5 until 60% of its budget and by 1.0
        // after keeps the run going until then, and stops it after.
        var stopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Abort, Threshold = 1.0, Patience = 2 };
        var (_, _, _, wide) = Train(new FakeDecayLaw(0.6), stopping: stopping with { ReferenceErrors = [new(0.1, 2.5), new(1.0, -2.5)] });
        Assert.Equal(Steps, wide);
        var (_, _, _, late) = Train(new FakeDecayLaw(0.6), stopping: stopping with { ReferenceErrors = [new(0.5, 2.5), new(0.6, 1.0), new(1.0, 1.0)] });
        Assert.InRange(late, (long)(0.6 * Steps), Steps - 2);
        var (_, _, _, plain) = Train(new FakeDecayLaw(0.6), stopping: stopping);
        Assert.True(plain < (long)(0.6 * Steps), $"without a reference the run stops at {plain}");
    }

    [Fact]
    public void TheMonitorKeepsEveryForecastItMadeAcrossACheckpoint()
    {
        var monitor = new TrainingMonitor(Schedule(), Steps, Options(new FakeDecayLaw(0.6), background: false));
        var seen = new List<long>();
        for (long step = 0; step < 150; step++)
        {
            if (monitor.OnStepEnd(step, 2 + 1 / Math.Sqrt(1 + step)).HasFlag(TrainingSignal.Forecast)) seen.Add(monitor.LatestForecast!.Step);
        }
        Assert.True(seen.Count >= 2);
        Assert.Equal(seen, monitor.Forecasts.Select(f => f.Step));
        Assert.Equal(monitor.LatestForecast!.FinalLoss, monitor.Forecasts[^1].FinalLoss);
        var json = JsonSerializer.Serialize(monitor.GetState(), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        monitor.Dispose();
        using var resumed = new TrainingMonitor(Schedule(), Steps, Options(new FakeDecayLaw(0.6), background: false));
        resumed.LoadState(JsonSerializer.Deserialize<TrainingMonitorState>(json, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })!);
        Assert.Equal(monitor.Forecasts, resumed.Forecasts);
    }

    [Fact]
    public void TargetModeStartsTheCooldownOnceTheTargetIsWithinReach()
    {
        // Starting now is forecast at 3.0 + 0.1·(D/N − 0.6)²; a target of 3.01 is in reach from D/N ≈ 0.28.
        // A measured prior (it pins nothing) is the decay evidence that keeps the unseen cooldown's gain out of the band.
        var stopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Target, Threshold = 3.01 };
        var (_, decisions, _, _) = Train(new FakeDecayLaw(0.6), stopping: stopping, prior: new ParameterPrior([3.0], [double.PositiveInfinity]));
        var start = decisions.First(d => d.StartNow);
        Assert.Contains("target", start.Reason);
        Assert.InRange(start.DecayStartStep, 80, 110);
    }

    [Fact]
    public void MarginalModeStopsWhenTheRemainingStepsGainTooLittle()
    {
        var stopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Marginal, Threshold = 1e6, Patience = 1 };
        var (_, _, _, last) = Train(new FakeDecayLaw(0.6), stopping: stopping);
        Assert.True(last < Steps - 1);
        Assert.Throws<ArgumentException>(() => new TrainingMonitor(Schedule(), Steps, new TrainingMonitorOptions { EarlyStopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Abort } }));
    }
}
