namespace FslTorch.Control;

/// <summary>Settings shared by everything that predicts from a fit during training.</summary>
public static class Forecasting
{
    /// <summary>
    /// Absolute kernel tolerance of forecast evaluations: the forecasts are fits of noisy curves, accurate to
    /// ~1e-3, so 1e-8 loses nothing and needs fewer modes than the laws' exact default of 1e-10.
    /// </summary>
    public const double KernelTolerance = 1e-8;
}
