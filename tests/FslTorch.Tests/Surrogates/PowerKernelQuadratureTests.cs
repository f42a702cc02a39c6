using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Surrogates;

public sealed class PowerKernelQuadratureTests
{
    // Fits can end at near-exponential kernels (γ in the hundreds; a live run once produced 898): those must stay
    // cheap and exact too.
    [Theory]
    [InlineData(0.05, 200)]
    [InlineData(0.3, 200)]
    [InlineData(0.6, 200)]
    [InlineData(1.0, 200)]
    [InlineData(1.5, 200)]
    [InlineData(3.0, 200)]
    [InlineData(10.0, 400)]
    [InlineData(60.0, 400)]
    [InlineData(300.0, 400)]
    [InlineData(900.0, 400)]
    [InlineData(2000.0, 400)]
    public void ApproximatesThePowerKernelWithinItsTolerance(double g, int mostModes)
    {
        const double maxArgument = 1e6;
        var kernel = PowerKernelQuadrature.Create(g, 1e-10, maxArgument);
        Assert.InRange(kernel.Count, 10, mostModes);
        for (double logX = -8; logX <= Math.Log10(maxArgument); logX += 0.02)
        {
            double x = Math.Pow(10, logX);
            Assert.True(Math.Abs(kernel.Evaluate(x) - Math.Pow(1 + x, -g)) <= 1e-9, $"g = {g}, x = {x}: {kernel.Evaluate(x):R} vs {Math.Pow(1 + x, -g):R}");
        }
        Assert.True(Math.Abs(kernel.Evaluate(0) - 1) <= 1e-9);
    }

    [Fact]
    public void WithoutABoundOnXItReachesFarTails()
    {
        var kernel = PowerKernelQuadrature.Create(1.0, 1e-10);
        foreach (double x in new[] { 1e3, 1e6, 1e9 }) Assert.True(Math.Abs(kernel.Evaluate(x) - 1 / (1 + x)) <= 1e-9);
    }

    [Fact]
    public void WeightDerivativesMatchFiniteDifferences()
    {
        const double g = 0.8, h = 1e-6;
        var kernel = PowerKernelQuadrature.Create(g, 1e-10, 1e4);
        foreach (double x in new[] { 0.1, 10, 1000 })
        {
            double analytic = 0;
            for (int m = 0; m < kernel.Count; m++) analytic += kernel.WeightDerivatives[m] * Math.Exp(-kernel.Nodes[m] * x);
            double numeric = (Math.Pow(1 + x, -(g + h)) - Math.Pow(1 + x, -(g - h))) / (2 * h);
            Assert.True(Math.Abs(analytic - numeric) <= 1e-6 * Math.Max(1, Math.Abs(numeric)), $"x = {x}: {analytic} vs {numeric}");
        }
    }

    [Theory]
    [InlineData(1e-9, 1)]
    [InlineData(1e-6, 500)]
    [InlineData(2e-5, 700)]
    [InlineData(0.003, 50)]
    [InlineData(0.5, 40)]
    [InlineData(7.0, 9)]
    public void AMergedBlockEqualsItsSteps(double x, int count)
    {
        // Two channels, the first with its rate derivative, on nodes that make e^(−y·Δ) span x's range.
        double[] nodes = [0, x / 10, x, 10 * x];
        var merged = new ModeBank(nodes, 2, 1);
        var stepped = new ModeBank(nodes, 2, 1);
        foreach (var bank in new[] { merged, stepped })
        {
            bank.Deposit(0, 0.7);
            bank.Deposit(1, 0.3);
            bank.Advance(1.3, 0.8);
        }
        merged.AdvanceBlock(1.0, 1.0, count, [0.25, 2.0]);
        for (int i = 0; i < count; i++)
        {
            stepped.Advance(1.0, 1.0);
            stepped.Deposit(0, 0.25);
            stepped.Deposit(1, 2.0);
        }
        for (int c = 0; c < 2; c++)
        for (int m = 0; m < nodes.Length; m++)
        {
            Assert.Equal(stepped.States[c][m], merged.States[c][m], 1e-9 * Math.Max(1, Math.Abs(stepped.States[c][m])));
        }
        for (int m = 0; m < nodes.Length; m++)
        {
            double expected = stepped.RateDerivatives[0][m];
            Assert.True(Math.Abs(expected - merged.RateDerivatives[0][m]) <= 1e-8 * Math.Max(1, Math.Abs(expected)), $"node {m}: {merged.RateDerivatives[0][m]:R} vs {expected:R}");
        }
    }
    // A fitter's trial step once reached MPL's β ≈ 10⁷⁹ (ln β = 182.35, from a 380-point TinyGpt curve): the search for
    // the kernel's upper end advanced by 1/√β, below the spacing of doubles at ln β, and never ended, so the fit hung
    // for as long as it was left to run. Such exponents are refused at once; the largest supported one still works.
    [Fact]
    public async Task AnExponentBeyondTheSupportedRangeIsRefusedAtOnce()
    {
        foreach (double g in new[] { Math.Exp(182.35), 1e30, 2e6 })
        {
            // WaitAsync throws a TimeoutException if the search does not end.
            await Task.Run(() => Assert.Throws<ArgumentOutOfRangeException>(() => PowerKernelQuadrature.Range(g, 1e-10))).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Throws<ArgumentOutOfRangeException>(() => PowerKernelQuadrature.Create(g, 1e-10, 1e6));
        }
        var (lower, upper, step) = PowerKernelQuadrature.Range(PowerKernelQuadrature.MaxExponent, 1e-10);
        Assert.True(lower < Math.Log(PowerKernelQuadrature.MaxExponent) && upper > Math.Log(PowerKernelQuadrature.MaxExponent) && step > 0);
    }

    // Where MPL's evaluation used to hang: its parameters at that trial point, over a warmup and a stable phase (any
    // schedule reaches the same search). The law now refuses them, as it refuses other parameters it cannot evaluate,
    // and the fitter rejects the step.
    [Fact]
    public async Task TheMultiPowerLawRefusesTheParametersOfTheTrialStepThatHungAFit()
    {
        double[] parameters = [Math.Exp(-27.58), Math.Exp(2.407), Math.Exp(-1.081), Math.Exp(13.12), Math.Exp(151.57), Math.Exp(182.35), Math.Exp(3.97)];
        var rates = Enumerable.Range(0, 480).Select(k => Math.Min(1.0, 0.01 + k / 100.0)).ToArray();
        var law = new MultiPowerLaw();
        await Task.Run(() => Assert.Throws<ArgumentOutOfRangeException>(() => law.Predict(parameters, new FslTorch.Schedules.SampledSchedule(rates), [100, 479])))
            .WaitAsync(TimeSpan.FromSeconds(20));
    }
}
