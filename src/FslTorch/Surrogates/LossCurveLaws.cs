namespace FslTorch.Surrogates;

/// <summary>The laws by name, and the library's default.</summary>
public static class LossCurveLaws
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fsl", "fsl-tied", "fsl-decreases", "fsl-direct", "mpl", "momentum"];

    /// <summary>
    /// The default law: the practical FSL (<see cref="FslLaw"/>). On the Multi-Power Law paper's curves it was the
    /// more accurate FSL form at 25M and the direct form at 100M, and it fits about three times faster
    /// (README, "Loss-curve laws").
    /// </summary>
    public static LossCurveLaw Default => new FslLaw();

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
