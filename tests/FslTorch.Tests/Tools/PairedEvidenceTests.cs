using TinyGptEvidence;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The paired-seed verdicts of the TinyGpt evidence run.</summary>
public sealed class PairedEvidenceTests
{
    private static readonly long[] Seeds = [1, 2, 3];

    // Seed effects of ±0.05 nats shared by every schedule of a seed: only paired differences can see the small gaps.
    private static readonly double[] SeedEffect = [0.05, -0.05, 0.0];

    private static double[] Losses(double mean, params double[] noise) => SeedEffect.Select((e, i) => mean + e + noise[i]).ToArray();

    [Fact]
    public void DifferencesArePairedPerSeedAndTheBestFractionIsTheLowestMean()
    {
        var evidence = PairedEvidence.Build(Seeds, new Dictionary<string, double[]>
        {
            ["controlled"] = Losses(1.000, 0, 0, 0),
            ["wsd:0.2"] = Losses(1.003, 0.001, -0.001, 0),
            ["wsd:0.3"] = Losses(0.998, 0, 0, 0),
            ["cosine"] = Losses(1.070, 0.01, -0.01, 0),
        });

        Assert.Equal("wsd:0.3", evidence.BestFraction);
        var cosine = evidence.Others.Single(c => c.Schedule == "cosine");
        Assert.Equal([0.08, 0.06, 0.07], cosine.Differences.Select(d => Math.Round(d, 10)));
        Assert.Equal(0.07, cosine.MeanDifference, 10);
        Assert.Equal(0.01, cosine.DifferenceSpread, 10); // sample sd of 0.08, 0.06, 0.07
        Assert.True(evidence.WithinBestFraction);     // 0.002 behind the best fraction
        Assert.True(evidence.NoWorseThanFixed02);     // 0.003 ahead of 0.2
        Assert.True(evidence.BeatsCosine);            // 0.07 > 0.01
        Assert.Contains("| wsd:0.3 (best fraction) |", evidence.Table());
    }

    [Fact]
    public void TargetsFailWhenTheControllerFallsBehind()
    {
        var evidence = PairedEvidence.Build(Seeds, new Dictionary<string, double[]>
        {
            ["controlled"] = Losses(1.010, 0, 0, 0),
            ["wsd:0.2"] = Losses(1.004, 0, 0, 0),
            ["cosine"] = Losses(1.015, 0.03, -0.03, 0), // ahead on average by less than its paired spread
        });

        Assert.False(evidence.WithinBestFraction);    // 0.006 behind wsd:0.2, the best
        Assert.False(evidence.NoWorseThanFixed02);
        Assert.False(evidence.BeatsCosine);
    }

    [Fact]
    public void MissingRunsAreReportedNotGuessed()
    {
        Assert.Throws<ArgumentException>(() => PairedEvidence.Build(Seeds, new Dictionary<string, double[]> { ["wsd:0.2"] = Losses(1, 0, 0, 0) }));
        Assert.Throws<ArgumentException>(() => PairedEvidence.Build(Seeds, new Dictionary<string, double[]> { ["controlled"] = Losses(1, 0, 0, 0), ["cosine"] = Losses(1, 0, 0, 0) }));
        var withoutCosine = PairedEvidence.Build(Seeds, new Dictionary<string, double[]> { ["controlled"] = Losses(1, 0, 0, 0), ["wsd:0.3"] = Losses(1, 0, 0, 0) });
        Assert.Null(withoutCosine.BeatsCosine);
        Assert.Null(withoutCosine.NoWorseThanFixed02);
    }
}
