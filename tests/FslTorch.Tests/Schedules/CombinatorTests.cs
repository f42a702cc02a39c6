using FslTorch.Schedules;
using Xunit;
using static FslTorch.Tests.Schedules.ScheduleAssert;

namespace FslTorch.Tests.Schedules;

public sealed class CombinatorTests
{
    [Fact]
    public void JoinEqualsItsPiecesEachSeeingItsRelativeStep()
    {
        var a = Schedule.Linear(0, 1, 10);
        var b = Schedule.Cosine(1, 0.1, 30);
        var c = Schedule.Exponential(0.1, 0.9);
        var join = Schedule.Join([a, b, c], [10, 40]);
        for (long k = 0; k < 10; k++) Assert.Equal(a.GetLearningRate(k), join.GetLearningRate(k));
        for (long k = 10; k < 40; k++) Assert.Equal(b.GetLearningRate(k - 10), join.GetLearningRate(k));
        for (long k = 40; k < 100; k++) Assert.Equal(c.GetLearningRate(k - 40), join.GetLearningRate(k));
    }

    [Fact]
    public void AJoinOfOnePieceIsThatPiece()
    {
        var piece = Schedule.Cosine(1, 0, 10);
        Assert.Equal(piece.Sample(20), Schedule.Join([piece], []).Sample(20));
    }

    [Fact]
    public void JoinRejectsBadBoundaries()
    {
        var p = Schedule.Constant(1);
        ThrowsFor("pieces", () => Schedule.Join([], []));
        ThrowsFor("boundaries", () => Schedule.Join([p, p], []));
        ThrowsFor("boundaries[0]", () => Schedule.Join([p, p], [0]));
        ThrowsFor("boundaries[1]", () => Schedule.Join([p, p, p], [5, 5]));
        ThrowsFor("pieces", () => Schedule.Join([p, null!], [5]));
    }

    [Fact]
    public void WarmupPrecedesTheMainScheduleWithoutEatingIntoIt()
    {
        var main = Schedule.Cosine(1, 0, 100);
        var warm = Schedule.WithWarmup(main, 20, initialLearningRate: 0.1);
        Assert.Equal(0.1, warm.GetLearningRate(0));
        Close(0.1 + 0.9 * 0.5, warm.GetLearningRate(10));
        for (long k = 20; k < 130; k++) Assert.Equal(main.GetLearningRate(k - 20), warm.GetLearningRate(k));
        NonDecreasing(warm, 0, 20);
        ThrowsFor("warmupSteps", () => Schedule.WithWarmup(main, 0));
        ThrowsFor("initialLearningRate", () => Schedule.WithWarmup(main, 5, -1));
    }

    [Fact]
    public void WarmupCosineSpendsTheRemainingStepsOnTheCosine()
    {
        var schedule = Schedule.WarmupCosine(1e-3, 100, 1000, DecayTarget.FractionOfPeak(0.1));
        Assert.Equal(0, schedule.GetLearningRate(0));
        Assert.Equal(1e-3, schedule.GetLearningRate(100));
        Close(5.5e-4, schedule.GetLearningRate(550));
        Close(1e-4, schedule.GetLearningRate(1000));
        NonIncreasing(schedule, 100, 1200);
    }
}
