namespace FslTorch.Surrogates;

/// <summary>The laws by name, and the library's default.</summary>
public static class LossCurveLaws
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fsl", "fsl-tied", "fsl-decreases", "fsl-direct", "mpl", "momentum"];

    /// <summary>
    /// The default law: the direct FSL (<see cref="FslDirectLaw"/>). Over the 11 protocols of <c>fsl bench all</c> on
    /// the shared data it is the best law or within 10% of it on 8, and its worst ratio to the best law (1.30) is the
    /// smallest of the four laws by far (6–8 for the others); the practical FSL is 7.7× behind on the longer-budget
    /// protocol, whose cooldown response it cannot identify from one cooldown length (README, "Which law by default").
    /// </summary>
    public static LossCurveLaw Default => new FslDirectLaw();

    /// <summary>A law by name: fsl, fsl-tied (γ = 1 − 1/β), fsl-decreases (LR increases are no sources), fsl-direct, mpl, momentum.</summary>
    public static LossCurveLaw Create(string name) => name switch
    {
        "fsl" => new FslLaw(),
        "fsl-tied" => new FslLaw(tieGammaToBeta: true),
        "fsl-decreases" => new FslLaw(countIncreases: false),
        "fsl-direct" => new FslDirectLaw(),
        "mpl" => new MultiPowerLaw(),
        "momentum" => new MomentumLaw(),
        _ => throw new ArgumentException($"Unknown law '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
    };
}
