using FslTorch.Control;
using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Control;

public sealed class WsdDecayControllerTests
{
    private const long N = 1000;

    private static MovableWsdSchedule Schedule() => new(new WsdSchedule(1.0, 20, 950, N));

    // Decide every 20 steps, as a forecaster with that refit interval would; returns the start chosen.
    private static (long Start, WsdDecayController Controller) Run(double optimum, DecayControllerOptions? options = null, MovableWsdSchedule? schedule = null)
    {
        schedule ??= Schedule();
        var controller = new WsdDecayController(schedule, options);
        var fit = FakeDecayLaw.Fit(new FakeDecayLaw(optimum));
        for (long next = 20; next < N; next += 20)
        {
            var decision = controller.Decide(next, fit, next + 20);
            if (decision is { StartNow: true }) return (decision.DecayStartStep, controller);
        }
        return (schedule.DecayStartStep, controller); // started by the plan, which never passes the latest start
    }

    [Fact]
    public void StartsWhereWaitingNoLongerGainsMoreThanTheMargin()
    {
        // Final loss 0.1·(D/N − 0.6)² above the best: waiting gains more than 0.002 until D/N ≥ 0.6 − √0.02 ≈ 0.459.
        var (start, controller) = Run(0.6);
        Assert.InRange(start, 460, 480);
        Assert.Equal(start, controller.DecayStartStep);
        var waits = controller.Decisions.Where(d => !d.StartNow).ToList();
        Assert.NotEmpty(waits);
        Assert.All(waits, d => Assert.True(d.GainOfWaiting > controller.Options.Margin || d.Step < controller.EarliestStart));
        Assert.All(controller.Decisions, d => Assert.NotEmpty(d.Candidates));
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
        var schedule = Schedule();
        var (start, controller) = Run(0.6, schedule: schedule);
        Assert.All(controller.Decisions, d => Assert.True(d.DecayStartStep >= d.Step, $"decision at {d.Step} planned {d.DecayStartStep}"));
        // After the start, nothing moves any more.
        Assert.Null(controller.Decide(start + 40, FakeDecayLaw.Fit(new FakeDecayLaw(0.9)), start + 60));
        Assert.Equal(start, schedule.DecayStartStep);
    }

    [Fact]
    public void AFailingPredictionChangesNothing()
    {
        var schedule = Schedule();
        var controller = new WsdDecayController(schedule);
        var decision = controller.Decide(500, FakeDecayLaw.Fit(new FakeDecayLaw(0.6, throws: true)), 520);
        Assert.Null(decision);
        Assert.Equal(950, schedule.DecayStartStep);
        Assert.Empty(controller.Decisions);
        var failed = FakeDecayLaw.Fit(new FakeDecayLaw(0.6));
        Assert.Null(controller.Decide(500, new FslTorch.Fitting.FitResult(failed.Law, 1, [double.NaN], double.NaN,
            FslTorch.Fitting.FitExitReason.Failed, 0, TimeSpan.Zero, [double.NaN], new double[1, 1], "failed"), 520));
    }

    [Fact]
    public void BadRailsThrowAtConfiguration()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { Margin = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { MinDecayFraction = 0.5, MaxDecayFraction = 0.3 }));
        Assert.Throws<ArgumentException>(() => new WsdDecayController(Schedule(), new DecayControllerOptions { MinStableFraction = 0.99 }));
    }
}
