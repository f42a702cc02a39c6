using FslTorch.Fitting;

namespace FslTorch.Surrogates;

/// <summary>The laws by name, and the library's default.</summary>
public static class LossCurveLaws
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fsl", "fsl-tied", "fsl-decreases", "fsl-direct", "fsl-direct-omega", "mpl", "momentum"];

    /// <summary>
    /// The default law, the one a run in progress is forecast with: the direct FSL (<see cref="FslDirectLaw"/>). On the
    /// 24 TinyGpt GPU runs replayed at their own refit steps it forecast the final loss best of the practical FSL, MPL and
    /// the momentum law at 50% and 75% of the budget on one corpus and at 75% on the other, and better than <c>fsl-direct-omega</c>, whose exponent one
    /// schedule and a short probe cannot pin; the 124M decay and probe replays agree. For finished runs of several schedules
    /// <see cref="ForRuns"/> picks <c>fsl-direct-omega</c> instead (README, "Which law by default").
    /// </summary>
    public static LossCurveLaw Default => new FslDirectLaw();

    /// <summary>The name that picks the law from the runs fitted (<see cref="ForRuns"/>); <c>fsl fit</c>'s default.</summary>
    public const string Auto = "auto";

    /// <summary>
    /// The law for fitting these runs jointly, each curve a whole run of its own (not a cooldown probe forked from
    /// another): <c>fsl-direct-omega</c> when they follow at least two different LR schedules
    /// (<see cref="DistinctSchedules"/>), else <see cref="Default"/>. Several schedules pin the LR's exponent in the noise;
    /// fitted to them, that law predicted runs of other schedules better than the default on 9 of the 11 protocols of
    /// <c>fsl bench all</c> and on 10 of 12 TinyGpt run triples, where one schedule (a run in progress and its probes)
    /// leaves it a guess that made forecasts worse (README, "Which law by default").
    /// </summary>
    public static LossCurveLaw ForRuns(IReadOnlyList<ObservedCurve> runs) =>
        DistinctSchedules(runs) >= 2 ? new FslDirectLaw(freeNoiseExponent: true) : Default;

    /// <summary>
    /// How many different LR schedules the curves follow: two curves follow the same one when their LRs agree within
    /// 1% at every step both cover (seeds of one schedule, or one schedule run to two budgets without a decay).
    /// </summary>
    public static int DistinctSchedules(IReadOnlyList<ObservedCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var kinds = new List<ObservedCurve>();
        foreach (var curve in curves)
        {
            if (!kinds.Any(seen => SameRates(seen.Schedule.LearningRates, curve.Schedule.LearningRates))) kinds.Add(curve);
        }
        return kinds.Count;
    }

    private static bool SameRates(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        for (int k = 0; k < Math.Min(a.Length, b.Length); k++)
        {
            if (Math.Abs(a[k] - b[k]) > 0.01 * Math.Max(a[k], b[k])) return false;
        }
        return true;
    }

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
