using FslTorch.Control;
using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Control;

public sealed class TensorBoardCallbackTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsltorch-tensorboard-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>Every scalar of a TensorBoard event file: (tag, step, value), read record by record (length, CRC, event, CRC).</summary>
    internal static List<(string Tag, long Step, float Value)> ReadScalars(string folder)
    {
        var scalars = new List<(string, long, float)>();
        foreach (var file in Directory.EnumerateFiles(folder, "events.out.tfevents.*"))
        {
            using var reader = new BinaryReader(File.OpenRead(file));
            while (reader.BaseStream.Position < reader.BaseStream.Length)
            {
                long length = reader.ReadInt64();
                reader.ReadUInt32(); // masked CRC of the length
                var data = reader.ReadBytes((int)length);
                reader.ReadUInt32(); // masked CRC of the data
                var record = Tensorboard.Event.Parser.ParseFrom(data);
                if (record.Summary == null) continue;
                foreach (var value in record.Summary.Value) scalars.Add((value.Tag, record.Step, value.SimpleValue));
            }
        }
        return scalars;
    }

    [Fact]
    public void TheLossTheForecastsAndTheDecayStartAreReadableBack()
    {
        const long steps = 300;
        var monitor = new TrainingMonitor(new WsdSchedule(1e-2, 20, 285, steps), steps, new TrainingMonitorOptions
        {
            Forecaster = new ForecasterOptions { Law = new FakeDecayLaw(0.6), RefitInterval = 25, MinPoints = 5, FromStep = 20, BandSamples = 0, CalibrateBands = false },
            DecayControl = new DecayControllerOptions { RequireDecayEvidence = false, HindcastTolerance = double.PositiveInfinity },
        });
        var tensorBoard = new TensorBoardCallback(_folder.FullName, monitor, every: 10);
        var callbacks = new CallbackList(monitor, tensorBoard);
        var forecasts = new List<(long Step, double Final)>();
        for (long step = 0; step < steps; step++)
        {
            double loss = 2 + 1 / Math.Sqrt(1 + step);
            var signal = callbacks.OnStepEnd(step, monitor.Schedule.GetLearningRate(step), loss);
            if (signal.HasFlag(TrainingSignal.Forecast)) forecasts.Add((step, monitor.LatestForecast!.FinalLoss));
            if (step % 100 == 99) callbacks.OnEvaluationEnd(step, loss + 0.1);
        }
        callbacks.OnRunEnd(steps - 1);

        var scalars = ReadScalars(_folder.FullName);
        var losses = scalars.Where(s => s.Tag == "train/loss").ToList();
        Assert.Equal(30, losses.Count);
        Assert.All(losses, s => Assert.Equal((float)(2 + 1 / Math.Sqrt(1 + s.Step)), s.Value));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => 10L * i), losses.Select(s => s.Step));
        Assert.Contains(scalars, s => s.Tag == "train/lr" && s.Step == 100 && s.Value == 1e-2f);
        Assert.Equal(forecasts.Select(f => (f.Step, (float)f.Final)), scalars.Where(s => s.Tag == "forecast/final_loss").Select(s => (s.Step, s.Value)));
        Assert.Equal(3, scalars.Count(s => s.Tag == "eval/loss"));
        // The decay start as planned, then where the monitor moved it.
        var starts = scalars.Where(s => s.Tag == "schedule/decay_start").Select(s => s.Value).ToList();
        Assert.Equal(285f, starts[0]);
        Assert.Equal(((WsdSchedule)monitor.Schedule).DecayStartStep, (long)starts[^1]);
        Assert.True(starts.Count >= 2, $"the decay start never moved, so the test shows less: {string.Join("; ", monitor.Controller!.Decisions.Select(d => $"{d.Step} {d.StartNow} {d.DecayStartStep} {d.Reason}"))}");
    }
}
