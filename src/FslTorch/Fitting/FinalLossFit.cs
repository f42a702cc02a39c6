using FslTorch.Surrogates;

namespace FslTorch.Fitting;

/// <summary>A fit of <see cref="FinalLossLaw"/> to a sweep; a failed fit says so here rather than throwing.</summary>
public sealed record FinalLossFit(IReadOnlyList<double> Parameters, IReadOnlyList<double> StandardErrors, double Objective,
    FitExitReason ExitReason, int Iterations, TimeSpan WallTime, string Message)
{
    /// <summary>Whether the parameters can be used.</summary>
    public bool Succeeded => ExitReason is FitExitReason.Converged or FitExitReason.IterationLimit;

    /// <summary>The predicted final loss of a run with N parameters trained on D.</summary>
    public double Predict(double modelSize, double dataSize) =>
        Succeeded ? FinalLossLaw.Predict(Parameters.ToArray(), modelSize, dataSize)
                  : throw new InvalidOperationException($"The fit did not succeed ({ExitReason}: {Message}).");
}
