using TinyGptEvidence;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The measure TinyGpt's recipe was chosen by: does a loss curve keep slowing down after its first tenth?</summary>
public sealed class CurveSmoothnessTests
{
    private static (List<long> Steps, List<double> Rates, List<double> Losses) Curve(int total, Func<double, double> loss, double stableUntil = 0.8)
    {
        var steps = Enumerable.Range(0, total).Select(k => (long)k).ToList();
        var rates = steps.Select(k => k < stableUntil * total ? 1e-3 : 1e-3 * (total - k) / ((1 - stableUntil) * total)).ToList();
        return (steps, rates, steps.Select(k => loss(k)).ToList());
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.8)]
    public void APowerLawInStepsKeepsSlowingDown(double exponent)
    {
        var (steps, rates, losses) = Curve(2000, k => 1 + 3 * Math.Pow(k + 10, -exponent));
        Assert.InRange(CurveSmoothness.Acceleration(steps, rates, losses), 1.0, 1.0001);
    }

    [Fact]
    public void APlateauFollowedByASecondDropIsMeasuredAsAnAcceleration()
    {
        // A power law, with a second drop of 0.3 nats between steps 600 and 900 (a phase change after a plateau).
        static double Loss(double k) => 1 + 3 * Math.Pow(k + 10, -0.5) - 0.3 / (1 + Math.Exp(-(k - 750) / 60));
        var (steps, rates, losses) = Curve(2000, Loss);
        Assert.True(CurveSmoothness.Acceleration(steps, rates, losses) > 1.5);
        // The same drop inside the first tenth does not count.
        var (_, _, early) = Curve(2000, k => 1 + 3 * Math.Pow(k + 10, -0.5) - 0.3 / (1 + Math.Exp(-(k - 60) / 15)));
        Assert.InRange(CurveSmoothness.Acceleration(steps, rates, early), 1.0, 1.05);
    }

    [Fact]
    public void NoiseOfAFewPercentOfTheDropsDoesNotLookLikeAPhaseChange()
    {
        var random = new Random(5);
        var (steps, rates, losses) = Curve(2000, k => 1 + 3 * Math.Pow(k + 10, -0.5) + 0.02 * (random.NextDouble() - 0.5));
        Assert.InRange(CurveSmoothness.Acceleration(steps, rates, losses), 1.0, 1.1);
    }

    [Fact]
    public void ACurveWhoseLearningRateDecaysFromTheStartHasNoMeasure()
    {
        var (steps, _, losses) = Curve(2000, k => 1 + 3 * Math.Pow(k + 10, -0.5));
        var cosine = steps.Select(k => 1e-3 * (1 + Math.Cos(Math.PI * k / 2000)) / 2).ToList();
        Assert.True(double.IsNaN(CurveSmoothness.Acceleration(steps, cosine, losses)));
        Assert.Throws<ArgumentException>(() => CurveSmoothness.Acceleration(steps, cosine.Take(10).ToList(), losses));
    }
}
