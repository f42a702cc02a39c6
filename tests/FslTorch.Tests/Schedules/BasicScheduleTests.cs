using FslTorch.Schedules;
using Xunit;
using static FslTorch.Tests.Schedules.ScheduleAssert;

namespace FslTorch.Tests.Schedules;

public sealed class BasicScheduleTests
{
    [Fact]
    public void ConstantIsTheSameAtEveryStep()
    {
        var schedule = Schedule.Constant(3e-4);
        Assert.Equal(3e-4, schedule.GetLearningRate(0));
        Assert.Equal(3e-4, schedule.GetLearningRate(1_000_000_000_000));
    }

    [Fact]
    public void LinearHitsBothEndsAndHoldsTheFinalRate()
    {
        var schedule = Schedule.Linear(1.0, 0.2, 8);
        Assert.Equal(1.0, schedule.GetLearningRate(0));
        Close(0.6, schedule.GetLearningRate(4));
        Close(0.3, schedule.GetLearningRate(7), 1e-12);
        Assert.Equal(0.2, schedule.GetLearningRate(8));
        Assert.Equal(0.2, schedule.GetLearningRate(9_999));
        NonIncreasing(schedule, 0, 20);
    }

    [Fact]
    public void LinearCanRampUp()
    {
        var schedule = Schedule.Linear(0, 1, 4);
        Assert.Equal(new[] { 0, 0.25, 0.5, 0.75, 1, 1 }, schedule.Sample(6));
    }

    [Fact]
    public void CosineFollowsItsFormulaToTheFloor()
    {
        var schedule = Schedule.Cosine(1.0, 0.1, 100);
        Assert.Equal(1.0, schedule.GetLearningRate(0));
        Close(0.55, schedule.GetLearningRate(50));
        Close(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), schedule.GetLearningRate(25));
        Assert.Equal(0.1, schedule.GetLearningRate(100));
        Assert.Equal(0.1, schedule.GetLearningRate(1000));
        NonIncreasing(schedule, 0, 120);
    }

    [Fact]
    public void ExponentialDecaysSmoothlyOrInStairsAndRespectsTheFloor()
    {
        var smooth = Schedule.Exponential(1.0, 0.5, transitionSteps: 10);
        Close(Math.Pow(0.5, 0.5), smooth.GetLearningRate(5));
        Close(0.25, smooth.GetLearningRate(20));
        var stairs = Schedule.Exponential(1.0, 0.5, transitionSteps: 10, staircase: true);
        Assert.Equal(1.0, stairs.GetLearningRate(9));
        Assert.Equal(0.5, stairs.GetLearningRate(10));
        var floored = Schedule.Exponential(1.0, 0.5, 1, floorLearningRate: 0.1);
        Assert.Equal(0.125, floored.GetLearningRate(3));
        Assert.Equal(0.1, floored.GetLearningRate(4));
        Assert.Equal(0.1, floored.GetLearningRate(400));
        NonIncreasing(smooth, 0, 100);
        NonIncreasing(stairs, 0, 100);
    }

    [Fact]
    public void StepDecayMatchesPyTorchStepLr()
    {
        var schedule = Schedule.Step(0.1, stepSize: 3, gamma: 0.1);
        Close(0.1, schedule.GetLearningRate(2));
        Close(0.01, schedule.GetLearningRate(3));
        Close(0.001, schedule.GetLearningRate(6));
    }

    [Fact]
    public void MultiStepDropsExactlyAtItsMilestones()
    {
        var schedule = Schedule.MultiStep(1.0, [10, 20], [0.5, 0.1]);
        Assert.Equal(1.0, schedule.GetLearningRate(9));
        Assert.Equal(0.5, schedule.GetLearningRate(10));
        Assert.Equal(0.5, schedule.GetLearningRate(19));
        Close(0.05, schedule.GetLearningRate(20));
        Close(0.05, schedule.GetLearningRate(1_000));
    }

    [Fact]
    public void EightOneOneDividesBySqrtTenAtEightyAndNinetyPercent()
    {
        var schedule = Schedule.EightOneOne(3e-4, 1000);
        Assert.Equal(3e-4, schedule.GetLearningRate(799));
        Close(3e-4 / Math.Sqrt(10), schedule.GetLearningRate(800));
        Close(3e-4 / Math.Sqrt(10), schedule.GetLearningRate(899));
        Close(3e-5, schedule.GetLearningRate(900));
        Close(3e-5, schedule.GetLearningRate(999));
        NonIncreasing(schedule, 0, 1100);
    }

    [Fact]
    public void TableHoldsOrInterpolatesBetweenRows()
    {
        var rows = new (long, double)[] { (0, 0.0), (10, 1.0), (20, 0.5) };
        var hold = new TableSchedule(rows);
        Assert.Equal(0.0, hold.GetLearningRate(9));
        Assert.Equal(1.0, hold.GetLearningRate(10));
        Assert.Equal(0.5, hold.GetLearningRate(25));
        var linear = new TableSchedule(rows, TableInterpolation.Linear);
        Close(0.5, linear.GetLearningRate(5));
        Close(0.75, linear.GetLearningRate(15));
        Assert.Equal(0.5, linear.GetLearningRate(100));
    }

    [Fact]
    public void TableReadsStepLrColumnsFromCsv()
    {
        var schedule = TableSchedule.FromCsv(new StringReader("step,lr,loss\n0,0,9\n1,1e-4,8\n2,2e-4,7\n"));
        Assert.Equal(3, schedule.Count);
        Assert.Equal(new[] { 0, 1e-4, 2e-4, 2e-4 }, schedule.Sample(4));
        Assert.Throws<FormatException>(() => TableSchedule.FromCsv(new StringReader("step,loss\n0,1\n")));
        Assert.Throws<FormatException>(() => TableSchedule.FromCsv(new StringReader("step,lr\n0,abc\n")));
    }

    [Fact]
    public void PowerDecayReachesZeroAtTheBudget()
    {
        var schedule = Schedule.PowerDecayToZero(2.0, 100, 3);
        Assert.Equal(2.0, schedule.GetLearningRate(0));
        Close(2.0 * Math.Pow(0.5, 3), schedule.GetLearningRate(50));
        Close(2.0 * Math.Pow(0.01, 3), schedule.GetLearningRate(99));
        Assert.Equal(0, schedule.GetLearningRate(100));
        Assert.Equal(0, schedule.GetLearningRate(5000));
        NonIncreasing(schedule, 0, 150);
        Assert.Equal(3, PowerDecaySchedule.FslEasyRegime(1, 10, beta: 2).Exponent);
    }

    [Fact]
    public void FslOptimalHoldsTheCapThenDecaysToItsScale()
    {
        // β = 2: η(n) = min(η_max, c·(1 + c·n/4)^3) with n = N − k steps remaining.
        var schedule = new FslOptimalSchedule(scale: 0.01, beta: 2, totalSteps: 1000, maxLearningRate: 0.05);
        Assert.Equal(0.05, schedule.GetLearningRate(0));
        Close(0.01 * Math.Pow(1 + 0.01 * 100 / 4, 3), schedule.GetLearningRate(900));
        Close(0.01 * Math.Pow(1 + 0.01 / 4, 3), schedule.GetLearningRate(999));
        Assert.Equal(0.01, schedule.GetLearningRate(1000));
        NonIncreasing(schedule, 0, 1100);
        var uncapped = new FslOptimalSchedule(0.01, 2, 1000);
        Close(0.01 * Math.Pow(1 + 0.01 * 1000 / 4, 3), uncapped.GetLearningRate(0));
    }

    [Fact]
    public void SamplingGivesTheRatesAndTheirInclusiveCumulativeSum()
    {
        var sampled = Schedule.Linear(0, 4, 4).SampleWithIntrinsicTime(6);
        Assert.Equal(new double[] { 0, 1, 2, 3, 4, 4 }, sampled.LearningRates.ToArray());
        Assert.Equal(new double[] { 0, 1, 3, 6, 10, 14 }, sampled.IntrinsicTime.ToArray());
        Assert.Equal(6, sampled.Count);
        Assert.Empty(Schedule.Constant(1).Sample(0));
    }

    [Fact]
    public void NegativeStepsAreRejected()
    {
        ThrowsFor("step", () => Schedule.Constant(1).GetLearningRate(-1));
        ThrowsFor("steps", () => Schedule.Constant(1).Sample(-1));
    }

    [Fact]
    public void EveryBadArgumentThrowsNamingTheParameter()
    {
        ThrowsFor("learningRate", () => Schedule.Constant(-1));
        ThrowsFor("learningRate", () => Schedule.Constant(double.NaN));
        ThrowsFor("learningRate", () => Schedule.Constant(double.PositiveInfinity));
        ThrowsFor("transitionSteps", () => Schedule.Linear(1, 0, 0));
        ThrowsFor("initialLearningRate", () => Schedule.Linear(-1, 0, 10));
        ThrowsFor("finalLearningRate", () => Schedule.Cosine(1, -0.1, 10));
        ThrowsFor("decaySteps", () => Schedule.Cosine(1, 0.1, -5));
        ThrowsFor("decayRate", () => Schedule.Exponential(1, 1.5));
        ThrowsFor("decayRate", () => Schedule.Exponential(1, 0));
        ThrowsFor("transitionSteps", () => Schedule.Exponential(1, 0.5, 0));
        ThrowsFor("floorLearningRate", () => Schedule.Exponential(1, 0.5, 1, floorLearningRate: 2));
        ThrowsFor("milestones[1]", () => Schedule.MultiStep(1, [10, 10], [0.5, 0.5]));
        ThrowsFor("milestones[0]", () => Schedule.MultiStep(1, [0], [0.5]));
        ThrowsFor("factors", () => Schedule.MultiStep(1, [10], [0.5, 0.5]));
        ThrowsFor("factors[0]", () => Schedule.MultiStep(1, [10], [-0.5]));
        ThrowsFor("totalSteps", () => Schedule.EightOneOne(1, 5));
        ThrowsFor("rows", () => new TableSchedule([(1, 0.1)]));
        ThrowsFor("rows", () => new TableSchedule([]));
        ThrowsFor("rows[1].Step", () => new TableSchedule([(0, 0.1), (0, 0.2)]));
        ThrowsFor("rows[1].LearningRate", () => new TableSchedule([(0, 0.1), (3, -0.2)]));
        ThrowsFor("totalSteps", () => Schedule.PowerDecayToZero(1, 0, 1));
        ThrowsFor("exponent", () => Schedule.PowerDecayToZero(1, 10, 0));
        ThrowsFor("exponent", () => DecayShape.Power(-1));
        ThrowsFor("beta", () => PowerDecaySchedule.FslEasyRegime(1, 10, 0.5));
        ThrowsFor("scale", () => new FslOptimalSchedule(0, 2, 10));
        ThrowsFor("beta", () => new FslOptimalSchedule(1, 0.4, 10));
        ThrowsFor("maxLearningRate", () => new FslOptimalSchedule(1, 2, 10, maxLearningRate: 0));
        ThrowsFor("finalLearningRate", () => new DecaySchedule(1, 0, 10, DecayShape.Geometric));
        ThrowsFor("initialLearningRate", () => new DecaySchedule(0, 0.1, 10, DecayShape.Geometric));
        Assert.Throws<ArgumentNullException>(() => new DecaySchedule(1, 0, 10, null!));
        ThrowsFor("fraction", () => DecayTarget.FractionOfPeak(1.5));
        ThrowsFor("learningRate", () => DecayTarget.Absolute(-1));
    }
}
