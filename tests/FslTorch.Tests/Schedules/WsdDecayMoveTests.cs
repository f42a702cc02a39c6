using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Schedules;

/// <summary>Moving a WSD decay start during a run: a new schedule, equal on the steps already taken.</summary>
public sealed class WsdDecayMoveTests
{
    private static WsdSchedule Create() => new(1.0, 10, 60, 100);

    [Fact]
    public void MovingEarlierOrLaterChangesOnlyStepsNotYetTaken()
    {
        var schedule = Create();
        const long nextStep = 30;
        var earlier = schedule.WithDecayStartFrom(40, nextStep);
        Assert.Equal(40, earlier.DecayStartStep);
        Assert.Equal(60, schedule.DecayStartStep); // the original is unchanged
        Assert.Equal(schedule.Sample(nextStep), earlier.Sample(nextStep));
        Assert.Equal(new WsdSchedule(1.0, 10, 40, 100).Sample(200), earlier.Sample(200));
        Assert.Equal(new WsdSchedule(1.0, 10, 80, 100).Sample(200), earlier.WithDecayStartFrom(80, nextStep).Sample(200));
        Assert.Same(schedule, schedule.WithDecayStartFrom(60, 70)); // no move, nothing to check
    }

    [Fact]
    public void MovingToTheNextStepItselfIsAllowed()
    {
        var moved = Create().WithDecayStartFrom(30, nextStep: 30);
        Assert.Equal(30, moved.DecayStartStep);
        Assert.False(moved.HasDecayBegun(30));
        Assert.True(moved.HasDecayBegun(31));
    }

    [Fact]
    public void MovingIntoThePastIsRejected()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Create().WithDecayStartFrom(29, nextStep: 30));
        Assert.Contains("already taken", error.Message);
    }

    [Fact]
    public void OnceTheDecayHasBegunTheStartIsFrozen()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Create().WithDecayStartFrom(90, nextStep: 61));
        Assert.Contains("frozen", error.Message);
    }

    [Fact]
    public void MovingOutsideTheBudgetIsRejectedByTheScheduleRules()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create().WithDecayStartFrom(100, nextStep: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Create().WithDecayStartFrom(8, nextStep: 5));
    }
}
