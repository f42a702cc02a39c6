using FslTorch.Fitting;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Fitting;

public sealed class FinalLossFitterTests
{
    private static readonly double[] Truth = [1.7, 400, 0.34, 410, 0.28]; // Chinchilla-like magnitudes

    private static List<FinalLossObservation> Sweep(double noise, int seed)
    {
        var random = new Random(seed);
        var runs = new List<FinalLossObservation>();
        foreach (double n in new[] { 1e6, 3e6, 1e7, 3e7, 1e8 })
        foreach (double d in new[] { 1e8, 3e8, 1e9, 3e9 })
        {
            double loss = FinalLossLaw.Predict(Truth, n, d) * (1 + noise * SyntheticCurves.Gaussian(random));
            runs.Add(new FinalLossObservation(n, d, loss));
        }
        return runs;
    }

    [Fact]
    public void RecoversAKnownSweepAndPredictsABiggerRun()
    {
        var fit = FinalLossFitter.Fit(Sweep(noise: 1e-3, seed: 1));
        Assert.True(fit.Succeeded, fit.Message);
        double big = FinalLossLaw.Predict(Truth, 1e9, 2e10);
        Assert.InRange(fit.Predict(1e9, 2e10), big * 0.99, big * 1.01);
        Assert.InRange(fit.Parameters[0], 1.7 * 0.9, 1.7 * 1.1);
        Assert.All(fit.StandardErrors, se => Assert.True(se > 0));
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        Span<double> gradient = stackalloc double[5];
        FinalLossLaw.Gradient(Truth, 3e7, 5e8, gradient);
        for (int j = 0; j < 5; j++)
        {
            var up = (double[])Truth.Clone();
            var down = (double[])Truth.Clone();
            double h = 1e-6 * Truth[j];
            up[j] += h;
            down[j] -= h;
            double numeric = (FinalLossLaw.Predict(up, 3e7, 5e8) - FinalLossLaw.Predict(down, 3e7, 5e8)) / (2 * h);
            Assert.Equal(numeric, gradient[j], Math.Abs(numeric) * 1e-6 + 1e-12);
        }
    }

    [Fact]
    public void BadInputThrowsAndTooFewRunsFail()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FinalLossLaw.Predict(Truth, -1, 1));
        Assert.Throws<ArgumentException>(() => FinalLossFitter.Fit([new FinalLossObservation(1e6, 1e9, -1)]));
        var fit = FinalLossFitter.Fit(Sweep(0, 1).Take(3).ToList());
        Assert.Equal(FitExitReason.Failed, fit.ExitReason);
        Assert.Throws<InvalidOperationException>(() => fit.Predict(1, 1));
    }
}
