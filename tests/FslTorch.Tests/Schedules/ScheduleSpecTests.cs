using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Schedules;

public sealed class ScheduleSpecTests
{
    public static TheoryData<string, LearningRateSchedule> Specs => new()
    {
        { "constant:peak=1e-3", Schedule.Constant(1e-3) },
        { "constant:peak=1e-3,warmup=100", Schedule.WithWarmup(Schedule.Constant(1e-3), 100) },
        { "constant:peak=1e-3,warmup=100,warmup_from=0.01", Schedule.WithWarmup(Schedule.Constant(1e-3), 100, 1e-5) },
        { "wsd:peak=5e-4,warmup=300,warmup_from=0.01,total=25000,decay_start=23750", new WsdSchedule(5e-4, 300, 23750, 25000, DecayShape.Linear, DecayTarget.Zero, 5e-6) },
        { "cosine:peak=3e-4,warmup=200,total=2400,final=0.1", Schedule.WarmupCosine(3e-4, 200, 2400, DecayTarget.FractionOfPeak(0.1)) },
        { "wsd:peak=3e-4,warmup=2000,total=24000,decay=0.2,shape=1-sqrt,final=0", Schedule.Wsd(3e-4, 2000, 19200, 24000, DecayShape.OneMinusSqrt, DecayTarget.Zero) },
        { "WSD: peak=3e-4, total=24e3, decay_start=20000, final=0.01", Schedule.Wsd(3e-4, 0, 20000, 24000, DecayShape.Linear, DecayTarget.FractionOfPeak(0.01)) },
        { "exponential:peak=1e-3,rate=0.5,every=100,warmup=10,floor=0.1", Schedule.WithWarmup(Schedule.Exponential(1e-3, 0.5, 100, floorLearningRate: 1e-4), 10) },
        { "power:peak=1e-3,total=1000,exponent=2", Schedule.PowerDecayToZero(1e-3, 1000, 2) },
        { "8-1-1:peak=1e-3,total=1000", Schedule.EightOneOne(1e-3, 1000) },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void ASpecBuildsTheSameScheduleAsTheFactory(string spec, LearningRateSchedule expected)
    {
        var parsed = Schedule.Parse(spec);
        Assert.Equal(expected.GetType(), parsed.GetType());
        Assert.Equal(expected.Sample(30_000), parsed.Sample(30_000));
    }

    [Theory]
    [InlineData("triangle:peak=1", "unknown kind 'triangle'")]
    [InlineData("wsd:peak=1e-3,total=100", "give either decay=F")]
    [InlineData("wsd:peak=1e-3,total=100,decay=0.2,decay_start=50", "give either decay=F")]
    [InlineData("cosine:peak=1e-3", "'total' is missing")]
    [InlineData("cosine:peak=abc,total=10", "peak=abc is not a number")]
    [InlineData("cosine:peak=1e-3,total=10.5", "total=10.5 is not a whole number")]
    [InlineData("cosine:peak=1e-3,total=10,slope=2", "cosine has no key 'slope'")]
    [InlineData("cosine:peak=1e-3,total=10,total=20", "'total' is given twice")]
    [InlineData("cosine:peak=1e-3 total=10", "peak=1e-3 total=10 is not a number")]
    [InlineData("cosine:peak=1e-3,total", "'total' is not key=value")]
    [InlineData("wsd:peak=1e-3,total=100,decay=0.2,shape=sigmoid", "Unknown decay shape 'sigmoid'")]
    [InlineData("wsd:peak=1e-3,total=100,decay=0.2,warmup=10,warmup_from=1", "warmup_from=1 must lie in [0, 1)")]
    [InlineData("cosine:peak=1e-3,total=100,warmup=10,warmup_from=0.1", "cosine has no key 'warmup_from'")]
    public void ABadSpecSaysWhatIsWrong(string spec, string expected)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => Schedule.Parse(spec));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ValuesNoScheduleAllowsAreRefusedByTheScheduleItself()
    {
        Assert.ThrowsAny<ArgumentException>(() => Schedule.Parse("wsd:peak=-1,total=100,decay=0.2"));
        Assert.ThrowsAny<ArgumentException>(() => Schedule.Parse("wsd:peak=1e-3,total=100,decay=1.5"));
        Assert.ThrowsAny<ArgumentException>(() => Schedule.Parse("wsd:peak=1e-3,total=100,warmup=90,decay=0.2"));
    }
}
