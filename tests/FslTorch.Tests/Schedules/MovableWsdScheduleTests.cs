using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Schedules;

public sealed class MovableWsdScheduleTests
{
    private static MovableWsdSchedule Create() => new(new WsdSchedule(1.0, 10, 60, 100));

    [Fact]
    public void MovingEarlierOrLaterChangesOnlyStepsNotYetTaken()
    {
        var schedule = Create();
        const long nextStep = 30;
        var before = schedule.Sample(nextStep);
        schedule.MoveDecayStart(40, nextStep);
        Assert.Equal(40, schedule.DecayStartStep);
        Assert.Equal(before, schedule.Sample(nextStep));
        Assert.Equal(new WsdSchedule(1.0, 10, 40, 100).Sample(200), schedule.Sample(200));
        schedule.MoveDecayStart(80, nextStep);
        Assert.Equal(new WsdSchedule(1.0, 10, 80, 100).Sample(200), schedule.Sample(200));
    }

    [Fact]
    public void MovingToTheNextStepItselfIsAllowed()
    {
        var schedule = Create();
        schedule.MoveDecayStart(30, nextStep: 30);
        Assert.Equal(30, schedule.DecayStartStep);
        Assert.False(schedule.HasDecayBegun(30));
        Assert.True(schedule.HasDecayBegun(31));
    }

    [Fact]
    public void MovingIntoThePastIsRejected()
    {
        var schedule = Create();
        var error = Assert.Throws<InvalidOperationException>(() => schedule.MoveDecayStart(29, nextStep: 30));
        Assert.Contains("already taken", error.Message);
        Assert.Equal(60, schedule.DecayStartStep);
    }

    [Fact]
    public void OnceTheDecayHasBegunTheStartIsFrozen()
    {
        var schedule = Create();
        var error = Assert.Throws<InvalidOperationException>(() => schedule.MoveDecayStart(90, nextStep: 61));
        Assert.Contains("frozen", error.Message);
        Assert.Equal(60, schedule.DecayStartStep);
    }

    [Fact]
    public void MovingOutsideTheBudgetIsRejectedByTheScheduleRules()
    {
        var schedule = Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.MoveDecayStart(100, nextStep: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.MoveDecayStart(8, nextStep: 5));
        Assert.Equal(60, schedule.DecayStartStep);
    }
}
