namespace FslTorch.Fitting;

/// <summary>One proxy run's loss curve and the size of its model (parameters, or any measure of size in one unit).</summary>
/// <param name="Curve">The run's logged loss with its learning rates.</param>
/// <param name="ModelSize">The model's size N (&gt; 0), e.g. its parameter count.</param>
public sealed record SizedCurve(ObservedCurve Curve, double ModelSize);
