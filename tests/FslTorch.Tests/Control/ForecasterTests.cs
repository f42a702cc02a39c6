using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tracking;
using Xunit;

namespace FslTorch.Tests.Control;

public sealed class ForecasterTests
{
    private static double Loss(long step) => 3 + 2 / Math.Sqrt(1 + step);

    [Fact]
    public void AFailedRefitKeepsThePreviousForecast()
    {
        var schedule = Schedule.Wsd(1.0, 10, 900, 1000);
        var tracker = new LossTracker();
        var law = new SwitchableLaw();
        using var forecaster = new Forecaster(schedule, 1000, tracker, new ForecasterOptions { Law = law, RefitInterval = 50, Background = false, MinPoints = 5, BandSamples = 0 });
        var arrived = new List<Forecast>();
        for (long step = 0; step < 300; step++)
        {
            tracker.Record(step, schedule.GetLearningRate(step), Loss(step));
            if (step == 149) law.Fail = true; // every refit from here on fails
            if (forecaster.OnStepEnd(step) is { } forecast) arrived.Add(forecast);
        }
        Assert.Equal([49L, 99L], arrived.Select(f => f.Step));
        Assert.Same(arrived[^1], forecaster.Latest);
        Assert.True(double.IsFinite(forecaster.Latest!.FinalLoss));
    }

    [Fact]
    public void TheStepPathAllocatesAlmostNothing()
    {
        var schedule = Schedule.Constant(1.0);
        var tracker = new LossTracker();
        using var forecaster = new Forecaster(schedule, 1_000_000, tracker, new ForecasterOptions { RefitInterval = 1_000_000 });
        for (long step = 0; step < 1000; step++) { tracker.Record(step, 1.0, Loss(step)); forecaster.OnStepEnd(step); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (long step = 1000; step < 101_000; step++)
        {
            tracker.Record(step, 1.0, Loss(step));
            forecaster.OnStepEnd(step);
        }
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / 100_000;
        Assert.True(perStep < 16, $"{perStep} bytes per step"); // only the bin list's occasional growth
    }

    /// <summary>The momentum law, which can be told to fail every fit from some point on.</summary>
    private sealed class SwitchableLaw : LossCurveLaw
    {
        private readonly MomentumLaw _inner = new();
        public volatile bool Fail;
        public override string Name => "switchable";
        public override string Formula => _inner.Formula;
        public override IReadOnlyList<LawParameter> Parameters => _inner.Parameters;
        public override IReadOnlyList<string> DecayResponseParameters => _inner.DecayResponseParameters;
        public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => _inner.InitialGuesses(l0, a, alpha);

        protected override void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
        {
            if (Fail) throw new ArgumentOutOfRangeException(nameof(parameters), "failing on purpose");
            _inner.Evaluate(parameters, schedule, steps, losses, jacobian);
        }

        protected override void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
            EvaluateCore(parameters, schedule, steps, losses, Span<double>.Empty);
    }
}
