namespace FslTorch.Surrogates;

/// <summary>The laws by name, and the library's default.</summary>
public static class LossCurveLaws
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fsl", "fsl-tied", "fsl-decreases", "fsl-direct", "fsl-direct-omega", "mpl", "momentum"];

    /// <summary>
    /// The default law: the direct FSL (<see cref="FslDirectLaw"/>). Over the 11 protocols of <c>fsl bench all</c> on
    /// the shared data, beside the practical FSL, MPL and the momentum law, it is the best law or within 10% of it on 8,
    /// and its worst ratio to the best of them (1.30) is the smallest by far (4.5–17 for the others); the practical FSL is 7.7× behind on the longer-budget
    /// protocol, whose cooldown response it cannot identify from one cooldown length (README, "Which law by default").
    /// <c>fsl-direct-omega</c> (the LR's exponent in the noise fitted) predicts finished runs of other schedules better on
    /// 9 of those 11 protocols, but forecasts runs in progress worse (TinyGpt's live runs, the 124M decay and probe replays),
    /// where one schedule and a short probe cannot pin its exponent, and is behind at the lowest peak LR; so it is not the default.
    /// </summary>
    public static LossCurveLaw Default => new FslDirectLaw();

    /// <summary>A law by name: fsl, fsl-tied (γ = 1 − 1/β), fsl-decreases (LR increases are no sources), fsl-direct, fsl-direct-omega (the LR's exponent in the noise fitted), mpl, momentum.</summary>
    public static LossCurveLaw Create(string name) => name switch
    {
        "fsl" => new FslLaw(),
        "fsl-tied" => new FslLaw(tieGammaToBeta: true),
        "fsl-decreases" => new FslLaw(countIncreases: false),
        "fsl-direct" => new FslDirectLaw(),
        "fsl-direct-omega" => new FslDirectLaw(freeNoiseExponent: true),
        "mpl" => new MultiPowerLaw(),
        "momentum" => new MomentumLaw(),
        _ => throw new ArgumentException($"Unknown law '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
    };
}
