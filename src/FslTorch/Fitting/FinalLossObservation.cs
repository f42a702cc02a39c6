namespace FslTorch.Fitting;

/// <summary>The final loss of one run of a sweep.</summary>
/// <param name="ModelSize">N, the number of parameters.</param>
/// <param name="DataSize">D, the training data (tokens or steps; the unit is the caller's).</param>
/// <param name="Loss">The final loss, &gt; 0.</param>
public sealed record FinalLossObservation(double ModelSize, double DataSize, double Loss);
