using System.Text.Json;
using FslTorch.Tracking;
using Xunit;

namespace FslTorch.Tests.Tracking;

public sealed class LossTrackerTests
{
    [Fact]
    public void TheSmoothingLagIsHowFarTheMovingAverageStandsAboveAFallingCurve()
    {
        // A loss falling by g per step: once past the start, the moving average lags by g·d/(1 − d), d the per-step
        // decay of its weights (half-life 20: about 28.4 steps' fall), and it is what the tracker's smoothed loss shows.
        const double g = 5e-4;
        var losses = Enumerable.Range(0, 400).Select(k => 1.5 - g * k).ToArray();
        var tracker = new LossTracker();
        for (int k = 0; k < losses.Length; k++) tracker.Record(k, 1e-3, losses[k]);
        double decay = Math.Pow(0.5, 1 / tracker.Options.EmaHalfLifeSteps);
        double lag = LossTracker.SmoothingLag(losses, tracker.Options.EmaHalfLifeSteps);
        Assert.Equal(g * decay / (1 - decay), lag, 1e-6);
        Assert.Equal(tracker.Smoothed - losses[^1], lag, 12);
        // A flat curve has none; a rising one lags below it.
        Assert.Equal(0, LossTracker.SmoothingLag([2.0, 2.0, 2.0], 20), 15);
        Assert.True(LossTracker.SmoothingLag(losses.Reverse().ToArray(), 20) < 0);
        Assert.Throws<ArgumentException>(() => LossTracker.SmoothingLag([], 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => LossTracker.SmoothingLag([1.0], 0));
        Assert.Throws<ArgumentException>(() => LossTracker.SmoothingLag([1.0, double.NaN], 20));
    }

    [Fact]
    public void CountsAndLeavesOutNonFiniteLossesAndSpikes()
    {
        var tracker = new LossTracker(new LossTrackerOptions { MedianWindow = 5, SpikeThreshold = 0.5 });
        for (int k = 0; k < 10; k++) Assert.Equal(LossTracker.Outcome.Accepted, tracker.Record(k, 1e-3, 3.0));
        Assert.Equal(LossTracker.Outcome.NonFinite, tracker.Record(10, 1e-3, double.NaN));
        Assert.Equal(LossTracker.Outcome.NonFinite, tracker.Record(11, 1e-3, double.PositiveInfinity));
        Assert.Equal(LossTracker.Outcome.Spike, tracker.Record(12, 1e-3, 4.6));
        Assert.Equal(LossTracker.Outcome.Accepted, tracker.Record(13, 1e-3, 4.4));
        Assert.Equal(LossTracker.Outcome.OutOfOrder, tracker.Record(13, 1e-3, 3.0));
        Assert.Equal(2, tracker.NonFiniteCount);
        Assert.Equal(1, tracker.SpikeCount);
        Assert.Equal(11, tracker.Recorded);
        Assert.DoesNotContain(tracker.Points, p => p.Step == 12 || double.IsNaN(p.Loss));
        Assert.Equal(3.0, tracker.Median);
    }

    [Fact]
    public void LossesThatScatterWidelyAreNotTakenForSpikesAndTheCurveKeepsItsLevel()
    {
        // Single-sample squared errors: ½z², a mean of 0.5 and a long upper tail.
        static (LossTracker Tracker, double RawMean) Track(double deviations)
        {
            var random = new Random(7);
            var tracker = new LossTracker(new LossTrackerOptions { SpikeDeviations = deviations });
            double sum = 0;
            for (int k = 0; k < 4000; k++)
            {
                double z = MathNet.Numerics.Distributions.Normal.Sample(random, 0, 1), loss = 0.5 * z * z;
                sum += loss;
                tracker.Record(k, 1e-3, loss);
            }
            return (tracker, sum / 4000);
        }
        static double TrackedMean(LossTracker tracker) => tracker.Points.Sum(p => p.Loss * p.Count) / tracker.Points.Sum(p => p.Count);
        var (tracker, raw) = Track(new LossTrackerOptions().SpikeDeviations);
        Assert.True(tracker.SpikeCount < 40, $"{tracker.SpikeCount} of 4000 losses left out");
        Assert.InRange(TrackedMean(tracker) / raw, 0.95, 1.0); // 21 left out, 0.964 here
        // Judged by the median alone, half of such losses lie 50% above it: the curve left loses its level.
        var (thresholdOnly, _) = Track(0);
        Assert.True(thresholdOnly.SpikeCount > 1000, $"{thresholdOnly.SpikeCount}");
        Assert.True(TrackedMean(thresholdOnly) < 0.5 * raw);
        // On a curve that scatters a few percent a spike is still a spike.
        var narrow = new LossTracker();
        var noise = new Random(3);
        for (int k = 0; k < 100; k++) Assert.Equal(LossTracker.Outcome.Accepted, narrow.Record(k, 1e-3, 3 + 0.03 * MathNet.Numerics.Distributions.Normal.Sample(noise, 0, 1)));
        Assert.Equal(LossTracker.Outcome.Spike, narrow.Record(100, 1e-3, 4.8));
        Assert.InRange(narrow.Spread, 0.015, 0.06);
    }

    [Fact]
    public void ALossThatMovesUpForGoodIsFollowedAfterHalfTheWindow()
    {
        var tracker = new LossTracker(new LossTrackerOptions { MedianWindow = 31 });
        for (int k = 0; k < 50; k++) tracker.Record(k, 1e-3, 1.0);
        // The level doubles and stays: the new losses are spikes until they make up most of the window and its median.
        var outcomes = Enumerable.Range(50, 100).Select(k => tracker.Record(k, 1e-3, 2.0)).ToList();
        Assert.Equal(16, outcomes.TakeWhile(o => o == LossTracker.Outcome.Spike).Count());
        Assert.All(outcomes.Skip(16), o => Assert.Equal(LossTracker.Outcome.Accepted, o));
        Assert.Equal(2.0, tracker.Median);
        Assert.Equal(2.0, tracker.Points[^1].Loss);
    }

    [Fact]
    public void SmoothsWithTheConfiguredHalfLife()
    {
        var tracker = new LossTracker(new LossTrackerOptions { EmaHalfLifeSteps = 1 });
        tracker.Record(0, 1, 4.0);
        tracker.Record(1, 1, 2.0);
        Assert.Equal(3.0, tracker.Smoothed, 12); // half-life 1 step: each new loss weighs one half
    }

    [Fact]
    public void DecimationBoundsThePointsAndKeepsTheMean()
    {
        var tracker = new LossTracker(new LossTrackerOptions { MaxPoints = 64 });
        double sum = 0;
        const int steps = 100_000;
        for (int k = 0; k < steps; k++)
        {
            double loss = 3 + 1.0 / (1 + k);
            sum += loss;
            tracker.Record(k, 1e-3, loss);
        }
        var points = tracker.Points;
        Assert.InRange(points.Count, 32, 64);
        Assert.Equal(steps, points.Sum(p => p.Count));
        Assert.Equal(sum, points.Sum(p => p.Loss * p.Count), 6);
        Assert.True(points.Zip(points.Skip(1)).All(pair => pair.First.Step < pair.Second.Step));
    }

    [Fact]
    public void ExportsCsvAndJsonLines()
    {
        var tracker = new LossTracker();
        tracker.Record(0, 1e-4, 5.5);
        tracker.Record(1, 2e-4, 5.25);
        var csv = new StringWriter();
        tracker.WriteCsv(csv);
        Assert.Equal(["step,lr,loss", "0,0.0001,5.5", "1,0.0002,5.25"], csv.ToString().TrimEnd().Split(Environment.NewLine));
        var jsonl = new StringWriter();
        tracker.WriteJsonLines(jsonl);
        var lines = jsonl.ToString().TrimEnd().Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(0, first.GetProperty("step").GetInt64());
        Assert.Equal(5.5, first.GetProperty("loss").GetDouble());
    }

    [Fact]
    public void AResumedTrackerContinuesIdentically()
    {
        var options = new LossTrackerOptions { MaxPoints = 32, MedianWindow = 7 };
        var whole = new LossTracker(options);
        var first = new LossTracker(options);
        var random = new Random(3);
        var losses = Enumerable.Range(0, 5000).Select(k => 3 + 2.0 / Math.Sqrt(1 + k) + 0.05 * random.NextDouble() + (k % 997 == 0 ? 5 : 0)).ToArray();
        for (int k = 0; k < 2500; k++)
        {
            whole.Record(k, 1e-3, losses[k]);
            first.Record(k, 1e-3, losses[k]);
        }
        var json = JsonSerializer.Serialize(first.GetState(), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        var resumed = LossTracker.FromState(JsonSerializer.Deserialize<LossTrackerState>(json, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })!, options);
        for (int k = 2500; k < 5000; k++)
        {
            Assert.Equal(whole.Record(k, 1e-3, losses[k]), resumed.Record(k, 1e-3, losses[k]));
        }
        Assert.Equal(whole.Points, resumed.Points);
        Assert.Equal(whole.Smoothed, resumed.Smoothed);
        Assert.Equal(whole.SpikeCount, resumed.SpikeCount);
    }

    [Fact]
    public void BadOptionsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LossTracker(new LossTrackerOptions { MedianWindow = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LossTracker(new LossTrackerOptions { MaxPoints = 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LossTracker(new LossTrackerOptions { EmaHalfLifeSteps = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LossTracker(new LossTrackerOptions { SpikeDeviations = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LossTracker(new LossTrackerOptions { SpikeDeviations = double.NaN }));
    }
}
