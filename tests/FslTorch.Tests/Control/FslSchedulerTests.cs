using FslTorch.Control;
using FslTorch.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace FslTorch.Tests.Control;

[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class FslSchedulerTests
{
    private const long TotalSteps = 60;

    private static WsdSchedule Wsd() => new(1e-2, warmupSteps: 5, decayStartStep: 40, totalSteps: TotalSteps,
        DecayShape.Cosine, DecayTarget.FractionOfPeak(0.1));

    [Fact]
    public void TorchSharpTrainsATinyModelAndTheLossGoesDown()
    {
        using var model = TinyRegression.CreateModel(seed: 7);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var scheduler = new FslScheduler(optimizer, Schedule.WarmupCosine(1e-2, 5, 80, DecayTarget.FractionOfPeak(0.1)));
        var losses = new List<double>();
        for (long k = 0; k < 80; k++)
        {
            losses.Add(TinyRegression.TrainStep(model, optimizer, k));
            scheduler.step();
        }
        double first = losses.Take(5).Average(), last = losses.TakeLast(5).Average();
        Assert.True(last < 0.5 * first, $"loss went from {first:F4} to {last:F4}");
    }

    [Fact]
    public void ACooldownProbeTrainsADecayOnACopyAndLeavesTheRunBitIdentical()
    {
        const long fork = 10;
        var schedule = Wsd();
        (float[] Weights, float[] Draws, CooldownProbe? Probe, List<double> Seen) Run(bool probe)
        {
            using var model = TinyRegression.CreateModel(seed: 3);
            using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
            var scheduler = new FslScheduler(optimizer, schedule);
            var handles = model.parameters().Select(p => p.Handle).ToArray();
            CooldownProbe? made = null;
            var seen = new List<double>();
            var draws = new List<float>();
            torch.manual_seed(99);
            for (long k = 0; k < 20; k++)
            {
                if (probe && k == fork)
                {
                    // Each probe step also draws from the default generator (as dropout would).
                    made = scheduler.RunCooldownProbe(model, 4, step =>
                    {
                        torch.rand(1).Dispose();
                        double loss = TinyRegression.TrainStep(model, optimizer, step);
                        seen.Add(loss);
                        return loss;
                    });
                    Assert.Equal(schedule.GetLearningRate(fork), optimizer.ParamGroups.Single().LearningRate, 15);
                    Assert.Equal(handles, model.parameters().Select(p => p.Handle).ToArray());
                }
                using (var draw = torch.rand(1)) draws.Add(draw.item<float>());
                TinyRegression.TrainStep(model, optimizer, k);
                scheduler.step();
            }
            return ([.. model.parameters().SelectMany(p => p.detach().data<float>().ToArray())], [.. draws], made, seen);
        }
        var plain = Run(probe: false);
        var probed = Run(probe: true);
        // The run after the probe: the same weights and the same draws, to the bit.
        Assert.Equal(plain.Weights, probed.Weights);
        Assert.Equal(plain.Draws, probed.Draws);
        // The probe: forked at the step in hand, a linear decay from its rate towards 0, the losses its steps returned.
        var probe = probed.Probe!;
        Assert.Equal(fork, probe.ForkStep);
        double from = schedule.GetLearningRate(fork);
        Assert.Equal([from, 0.75 * from, 0.5 * from, 0.25 * from], probe.LearningRates);
        Assert.Equal(probed.Seen, probe.Losses);
        probe.Validate();
    }

    [Fact]
    public void ACooldownProbeIsRefusedBeforeTheFirstStepAndWithFewerThanTwoSteps()
    {
        using var model = TinyRegression.CreateModel(seed: 3);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var scheduler = new FslScheduler(optimizer, Wsd());
        Assert.Contains("after the run's first step", Assert.Throws<InvalidOperationException>(() => scheduler.RunCooldownProbe(model, 4, _ => 0)).Message);
        TinyRegression.TrainStep(model, optimizer, 0);
        scheduler.step();
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.RunCooldownProbe(model, 1, _ => 0));
    }

    [Fact]
    public void TheOptimizerUsesThePureScheduleAtEveryStep()
    {
        using var model = TinyRegression.CreateModel(seed: 1);
        using var optimizer = optim.AdamW(model.parameters(), lr: 123.0);
        var schedule = Wsd();
        var scheduler = new FslScheduler(optimizer, schedule);
        for (long k = 0; k < TotalSteps + 5; k++)
        {
            Assert.Equal(k, scheduler.CurrentStep);
            Assert.Equal(schedule.GetLearningRate(k), optimizer.ParamGroups.Single().LearningRate);
            Assert.Equal(schedule.GetLearningRate(k), scheduler.get_last_lr().Single());
            TinyRegression.TrainStep(model, optimizer, k);
            scheduler.step();
        }
    }

    [Fact]
    public void SeveralParameterGroupsGetAbsoluteRatesOrScaledMultipliers()
    {
        using var model = TinyRegression.CreateModel(seed: 1);
        var parameters = model.parameters().ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(parameters.Take(2), lr: 1e-3),
            new AdamW.ParamGroup(parameters.Skip(2), lr: 4e-3),
        };
        var multipliers = Schedule.Linear(1.0, 0.0, 10);

        using var absoluteOptimizer = optim.AdamW(groups);
        var absolute = new FslScheduler(absoluteOptimizer, multipliers, GroupScaling.Absolute);
        using var scaledOptimizer = optim.AdamW([
            new AdamW.ParamGroup(parameters.Take(2), lr: 1e-3),
            new AdamW.ParamGroup(parameters.Skip(2), lr: 4e-3),
        ]);
        var scaled = new FslScheduler(scaledOptimizer, multipliers, GroupScaling.Multiplier);
        for (int k = 0; k < 12; k++)
        {
            double m = multipliers.GetLearningRate(k);
            Assert.Equal(new[] { m, m }, absoluteOptimizer.ParamGroups.Select(g => g.LearningRate));
            Assert.Equal(new[] { 1e-3 * m, 4e-3 * m }, scaledOptimizer.ParamGroups.Select(g => g.LearningRate));
            absolute.step();
            scaled.step();
        }
    }

    [Fact]
    public void MovingTheDecayThroughTheSchedulerReappliesTheCurrentRate()
    {
        using var model = TinyRegression.CreateModel(seed: 1);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var planned = Wsd();
        var scheduler = new FslScheduler(optimizer, planned);
        for (int k = 0; k < 20; k++) scheduler.step();
        scheduler.MoveDecayStart(20); // the current step itself: not yet taken
        Assert.Equal(1e-2, optimizer.ParamGroups.Single().LearningRate);
        Assert.Equal(20, ((WsdSchedule)scheduler.Schedule).DecayStartStep);
        Assert.NotSame(planned, scheduler.Schedule); // schedules are immutable: the scheduler holds a new one
        scheduler.step();
        Assert.True(optimizer.ParamGroups.Single().LearningRate < 1e-2);
        Assert.Throws<InvalidOperationException>(() => scheduler.MoveDecayStart(50)); // the decay began
        Assert.Throws<InvalidOperationException>(() => new FslScheduler(optimizer, Schedule.Constant(1e-2)).MoveDecayStart(50));
    }

    [Fact]
    public void ResumingFromACheckpointContinuesTheIdenticalRunToTheBit()
    {
        const long checkpointStep = 25, moveAt = 15, movedDecayStart = 30;
        var directory = Directory.CreateTempSubdirectory("fsltorch-resume-");
        try
        {
            // The uninterrupted run, which also writes a checkpoint after step 24.
            var (uninterruptedRates, uninterruptedLosses) = Run(seed: 3, resumeFrom: null, checkpoint: directory.FullName);

            // A fresh model, optimizer and scheduler (different initial weights) restored from the checkpoint.
            var (resumedRates, resumedLosses) = Run(seed: 99, resumeFrom: directory.FullName, checkpoint: null);

            Assert.Equal(TotalSteps - checkpointStep, resumedRates.Count);
            Assert.Equal(uninterruptedRates.Skip((int)checkpointStep), resumedRates);
            Assert.Equal(uninterruptedLosses.Skip((int)checkpointStep), resumedLosses);
            Assert.NotEqual(Wsd().GetLearningRate(35), resumedRates[10]); // the moved decay start was restored
        }
        finally
        {
            directory.Delete(recursive: true);
        }

        (List<double> Rates, List<double> Losses) Run(long seed, string? resumeFrom, string? checkpoint)
        {
            using var model = TinyRegression.CreateModel(seed);
            using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
            var scheduler = new FslScheduler(optimizer, Wsd());
            if (resumeFrom != null)
            {
                model.load(Path.Combine(resumeFrom, "model.bin"));
                optimizer.load_state_dict(Path.Combine(resumeFrom, "optimizer.bin"));
                scheduler.LoadStateFile(Path.Combine(resumeFrom, "scheduler.json"));
            }
            var rates = new List<double>();
            var losses = new List<double>();
            for (long k = scheduler.CurrentStep; k < TotalSteps; k++)
            {
                if (k == moveAt) scheduler.MoveDecayStart(movedDecayStart);
                if (k == checkpointStep && checkpoint != null)
                {
                    model.save(Path.Combine(checkpoint, "model.bin"));
                    optimizer.save_state_dict(Path.Combine(checkpoint, "optimizer.bin"));
                    scheduler.SaveStateFile(Path.Combine(checkpoint, "scheduler.json"));
                }
                rates.Add(optimizer.ParamGroups.Single().LearningRate);
                losses.Add(TinyRegression.TrainStep(model, optimizer, k));
                scheduler.step();
            }
            return (rates, losses);
        }
    }

    [Fact]
    public void AStateMustMatchTheScheduleKind()
    {
        using var model = TinyRegression.CreateModel(seed: 1);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var plain = new FslScheduler(optimizer, Schedule.Constant(1e-2));
        Assert.Throws<ArgumentException>(() => plain.LoadState(new FslSchedulerState(3, 30)));
        Assert.Throws<ArgumentException>(() => plain.LoadState(new FslSchedulerState(-1, null)));
        var wsd = new FslScheduler(optimizer, Wsd());
        wsd.load_state_dict(new FslSchedulerState(3, 30));
        Assert.Equal(new FslSchedulerState(3, 30), wsd.state_dict());
        Assert.Equal(30, ((WsdSchedule)wsd.Schedule).DecayStartStep);
    }

    [Fact]
    public void DeviceSelectionFallsBackToTheCpuAndRejectsUnknownNames()
    {
        var auto = TorchDevices.Resolve(null);
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, auto.type);
        Assert.Equal(DeviceType.CPU, TorchDevices.Resolve("cpu").type);
        Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("tpu"));
        if (!cuda.is_available()) Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("cuda"));
    }
}
