using FslTorch.Surrogates;

namespace FslTorch.Control;

/// <summary>Settings shared by everything that predicts from a fit during training.</summary>
public static class Forecasting
{
    /// <summary>
    /// Absolute kernel tolerance of forecast evaluations: the forecasts are fits of noisy curves, accurate to
    /// ~1e-3, so 1e-8 loses nothing and needs fewer modes than the laws' exact default of 1e-10.
    /// </summary>
    public const double KernelTolerance = 1e-8;

    /// <summary>
    /// The block fraction of forecast evaluations (<see cref="LossCurveLaw.WithSourceBlocks"/>): a law whose every
    /// step is a source merges constant-LR stretches, so a decision at a million steps stays cheap.
    /// </summary>
    public const double SourceBlockFraction = 0.02;

    /// <summary>The law as forecasts evaluate it: the forecast kernel tolerance and source blocks.</summary>
    public static LossCurveLaw Evaluator(LossCurveLaw law)
    {
        ArgumentNullException.ThrowIfNull(law);
        return law.WithKernelTolerance(KernelTolerance).WithSourceBlocks(SourceBlockFraction);
    }
}
