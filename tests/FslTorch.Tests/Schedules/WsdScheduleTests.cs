using FslTorch.Schedules;
using Xunit;
using static FslTorch.Tests.Schedules.ScheduleAssert;

namespace FslTorch.Tests.Schedules;

public sealed class WsdScheduleTests
{
    public static TheoryData<string> Shapes => new() { "linear", "cosine", "1-sqrt", "geometric", "power" };

    private static DecayShape ShapeNamed(string name) => name switch
    {
        "linear" => DecayShape.Linear,
        "cosine" => DecayShape.Cosine,
        "1-sqrt" => DecayShape.OneMinusSqrt,
        "geometric" => DecayShape.Geometric,
        "power" => DecayShape.Power(2),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryShapeHasTheRightValuesAtEveryBoundary(string shapeName)
    {
        var shape = ShapeNamed(shapeName);
        var schedule = new WsdSchedule(1e-3, warmupSteps: 10, decayStartStep: 60, totalSteps: 100, shape, DecayTarget.FractionOfPeak(0.1));
        Assert.Equal(0, schedule.GetLearningRate(0));
        Close(1e-4, schedule.GetLearningRate(1));
        Close(9e-4, schedule.GetLearningRate(9));
        Assert.Equal(1e-3, schedule.GetLearningRate(10));
        Assert.Equal(1e-3, schedule.GetLearningRate(59));
        Assert.Equal(1e-3, schedule.GetLearningRate(60));
        Assert.True(schedule.GetLearningRate(61) < 1e-3);
        double last = schedule.GetLearningRate(99);
        Close(shape.Interpolate(1e-3, 1e-4, 39.0 / 40), last);
        Assert.True(last > 1e-4);
        Close(1e-4, schedule.GetLearningRate(100));
        Close(1e-4, schedule.GetLearningRate(10_000));
        NonDecreasing(schedule, 0, 60);
        NonIncreasing(schedule, 10, 200);
    }

    [Fact]
    public void ShapesFollowTheirFormulas()
    {
        const double peak = 2.0, final = 0.5, p = 0.36;
        Close(final + (peak - final) * (1 - p), DecayShape.Linear.Interpolate(peak, final, p));
        Close(final + (peak - final) * 0.5 * (1 + Math.Cos(Math.PI * p)), DecayShape.Cosine.Interpolate(peak, final, p));
        Close(final + (peak - final) * (1 - 0.6), DecayShape.OneMinusSqrt.Interpolate(peak, final, p));
        Close(peak * Math.Pow(final / peak, p), DecayShape.Geometric.Interpolate(peak, final, p));
        Close(final + (peak - final) * Math.Pow(1 - p, 3), DecayShape.Power(3).Interpolate(peak, final, p));
        Assert.Equal("power(3)", DecayShape.Power(3).Name);
    }

    [Fact]
    public void LinearCooldownToZeroMatchesTheSchaippConvention()
    {
        // peak until T − ⌊f·T⌋, then linear to 0 at T (../shared/data/README.md, schaipp-124m).
        long total = 25000, start = WsdSchedule.DecayStartForFraction(total, 0.2);
        Assert.Equal(20000, start);
        var schedule = Schedule.Wsd(1e-3, 300, start, total);
        Assert.Equal(1e-3, schedule.GetLearningRate(20000));
        Close(1e-3 * 4999 / 5000, schedule.GetLearningRate(20001));
        Close(1e-3 / 5000, schedule.GetLearningRate(24999));
        Assert.Equal(0, schedule.GetLearningRate(25000));
        Close(0.2, schedule.CooldownFraction);
    }

    [Fact]
    public void WithoutWarmupTheFirstStepIsThePeak()
    {
        var schedule = new WsdSchedule(1, 0, 5, 10);
        Assert.Equal(1, schedule.GetLearningRate(0));
        var decayOnly = new WsdSchedule(1, 0, 0, 4);
        Assert.Equal(new[] { 1, 0.75, 0.5, 0.25, 0 }, decayOnly.Sample(5));
    }

    [Fact]
    public void CosineWarmupRisesAlongHalfACosine()
    {
        var schedule = new WsdSchedule(1, 10, 20, 30, warmupInitialLearningRate: 0.01, warmupShape: WarmupShape.Cosine);
        Assert.Equal(0.01, schedule.GetLearningRate(0));
        Close(0.01 + 0.99 * 0.5, schedule.GetLearningRate(5));
        Assert.Equal(1, schedule.GetLearningRate(10));
        NonDecreasing(schedule, 0, 20);
    }

    [Fact]
    public void AbsoluteAndFractionalTargetsAgree()
    {
        var absolute = new WsdSchedule(3e-4, 100, 800, 1000, DecayShape.Cosine, DecayTarget.Absolute(3e-5));
        var fraction = new WsdSchedule(3e-4, 100, 800, 1000, DecayShape.Cosine, DecayTarget.FractionOfPeak(0.1));
        for (long k = 0; k < 1100; k += 7) Close(absolute.GetLearningRate(k), fraction.GetLearningRate(k));
    }

    [Fact]
    public void EqualsItsJoinOfWarmupConstantAndDecay()
    {
        var wsd = new WsdSchedule(2.0, 10, 50, 90, DecayShape.OneMinusSqrt, DecayTarget.Absolute(0.2));
        var join = Schedule.Join(
            [Schedule.Linear(0, 2.0, 10), Schedule.Constant(2.0), new DecaySchedule(2.0, 0.2, 40, DecayShape.OneMinusSqrt)],
            [10, 50]);
        Assert.Equal(join.Sample(120), wsd.Sample(120));
    }

    [Fact]
    public void BadArgumentsThrowNamingTheParameter()
    {
        ThrowsFor("peakLearningRate", () => new WsdSchedule(0, 0, 5, 10));
        ThrowsFor("totalSteps", () => new WsdSchedule(1, 0, 0, 0));
        ThrowsFor("decayStartStep", () => new WsdSchedule(1, 0, 10, 10));
        ThrowsFor("decayStartStep", () => new WsdSchedule(1, 0, -1, 10));
        ThrowsFor("warmupSteps", () => new WsdSchedule(1, 6, 5, 10));
        ThrowsFor("decayTarget", () => new WsdSchedule(1, 0, 5, 10, decayTarget: DecayTarget.Absolute(2)));
        ThrowsFor("finalLearningRate", () => new WsdSchedule(1, 0, 5, 10, DecayShape.Geometric));
        ThrowsFor("warmupInitialLearningRate", () => new WsdSchedule(1, 2, 5, 10, warmupInitialLearningRate: 2));
        ThrowsFor("cooldownFraction", () => WsdSchedule.DecayStartForFraction(10, 1.1));
    }

    [Fact]
    public void TheHuggingFaceStyleFactoryBuildsTheSameWsd()
    {
        // get_wsd_schedule(num_warmup_steps=100, num_stable_steps=700, num_decay_steps=200, decay_type="linear", min_lr_ratio=0.1)
        var schedule = Schedule.GetWsdSchedule(1e-3, numWarmupSteps: 100, numDecaySteps: 200, numStableSteps: 700, decayType: "linear", minLrRatio: 0.1);
        Assert.Equal(1000, schedule.TotalSteps);
        Assert.Equal(800, schedule.DecayStartStep);
        Assert.Equal(0, schedule.GetLearningRate(0));
        Assert.Equal(5e-4, schedule.GetLearningRate(50), 15);
        Assert.Equal(1e-3, schedule.GetLearningRate(500));
        Assert.Equal(1e-3 * (0.1 + 0.9 * 0.5), schedule.GetLearningRate(900), 15); // halfway down the decay
        Assert.Equal(1e-4, schedule.GetLearningRate(1000), 15);
        Assert.Equal(schedule.Sample(1000), Schedule.GetWsdSchedule(1e-3, 100, 200, numTrainingSteps: 1000, decayType: "linear", minLrRatio: 0.1).Sample(1000));
        Assert.Equal("cosine", Schedule.GetWsdSchedule(1e-3, 100, 200, numTrainingSteps: 1000).DecayShape.Name); // Hugging Face's default
        Assert.Throws<ArgumentException>(() => Schedule.GetWsdSchedule(1e-3, 100, 200));
        Assert.Throws<ArgumentException>(() => Schedule.GetWsdSchedule(1e-3, 100, 200, numTrainingSteps: 1000, numStableSteps: 5));
        Assert.Throws<ArgumentException>(() => Schedule.GetWsdSchedule(1e-3, 900, 200, numTrainingSteps: 1000));
        Assert.Throws<ArgumentException>(() => Schedule.GetWsdSchedule(1e-3, 100, 200, numTrainingSteps: 1000, decayType: "sigmoid"));
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("cosine")]
    [InlineData("1-sqrt")]
    [InlineData("geometric")]
    [InlineData("power(2)")]
    public void DecayShapesParseFromTheirNames(string name)
    {
        var shape = DecayShape.Parse(name);
        Assert.Equal(name, shape.Name);
        Assert.Equal(shape.Name, DecayShape.Parse(shape.Name.ToUpperInvariant()).Name);
        Assert.Equal(0.25, DecayShape.Parse("power:2").Interpolate(1, 0, 0.5), 15);
        var error = Assert.Throws<ArgumentException>(() => DecayShape.Parse("power(-1)"));
        Assert.Contains("1-sqrt", error.Message);
    }
}
