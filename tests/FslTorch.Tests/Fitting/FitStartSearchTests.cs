using FslTorch.Fitting;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Fitting;

public sealed class FitStartSearchTests
{
    private const double P = SyntheticCurves.Peak;

    // The direct FSL in raw LR units (as LawFitterTests' truth), on the constant-LR run after warmup.
    private static readonly double[] Raw = [3.1, 4.0, 2e-4 / (P * P), 300 * P, 0.5, 2.0, 2e-4 / (P * P)];

    // The law's curve with 0.3% noise, plus a transient that ends at `end`: the loss sits `offset` nats higher
    // before it (a plateau-then-drop that no loss-curve law follows).
    private static ObservedCurve Curve(int end, double offset, int seed = 1)
    {
        var clean = SyntheticCurves.Generate(new FslDirectLaw(), Raw, "constant", noise: 0.003, seed);
        var losses = clean.Steps.Select((k, i) => clean.Losses[i] + (k < end ? offset : 0)).ToList();
        return new ObservedCurve("transient", clean.Schedule, clean.Steps, losses);
    }

    [Theory]
    [InlineData(1200, 1)]
    [InlineData(1200, 2)]
    [InlineData(2000, 3)]
    [InlineData(2000, 4)]
    [InlineData(800, 5)]
    public void APlantedTransientsEndIsFoundWithinTenPercent(int end, int seed)
    {
        var choice = FitStartSearch.Choose(new FitProblem(new FslDirectLaw(), [Curve(end, offset: 0.15, seed)]), SyntheticCurves.Warmup, new FitOptions(), minPoints: 12);
        Assert.NotNull(choice);
        Assert.True(choice!.Found);
        Assert.InRange(choice.Step, 0.9 * end, 1.1 * end);
        var chosen = choice.Candidates.Single(c => c.Start == choice.Step);
        // Every start before the transient's end followed its window worse than the one chosen.
        Assert.All(choice.Candidates.Where(c => c.Start < 0.9 * end), c => Assert.True(c.WindowError > FitStartSearch.Tolerance * chosen.WindowError,
            $"start {c.Start}: {c.WindowError} vs {chosen}"));
    }

    [Fact]
    public void WarmStartedLikeARefitTheSearchFindsTheSameBoundary()
    {
        // A refit's search refines only the previous fit's parameters (here: a fit of the whole curve, transient included).
        var curve = Curve(1200, offset: 0.15);
        var previous = LawFitter.Fit(new FslDirectLaw(), [curve.Where(k => k >= SyntheticCurves.Warmup)]);
        Assert.True(previous.Succeeded, previous.Message);
        var choice = FitStartSearch.Choose(new FitProblem(new FslDirectLaw(), [curve]) { InitialGuess = previous.Parameters }, SyntheticCurves.Warmup, new FitOptions(), minPoints: 12);
        Assert.NotNull(choice);
        Assert.InRange(choice!.Step, 1080, 1320);
    }

    [Fact]
    public void ACurveTheLawFollowsKeepsItsEarliestStart()
    {
        var choice = FitStartSearch.Choose(new FitProblem(new FslDirectLaw(), [Curve(end: 0, offset: 0)]), SyntheticCurves.Warmup, new FitOptions(), minPoints: 12);
        Assert.NotNull(choice);
        Assert.Equal(320, choice!.Step); // the first observed step (every 40th after the warmup)
        Assert.Equal(6, choice.Candidates.Count); // no refinement was needed
    }

    [Fact]
    public void TooShortACurveHasNoChoice()
    {
        var curve = Curve(end: 0, offset: 0).Where(k => k < 500);
        Assert.Null(FitStartSearch.Choose(new FitProblem(new FslDirectLaw(), [curve]), 0, new FitOptions(), minPoints: 12));
    }
}
