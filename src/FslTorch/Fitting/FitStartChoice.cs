namespace FslTorch.Fitting;

/// <summary>The outcome of <see cref="FitStartSearch.Choose"/>.</summary>
/// <param name="Step">The chosen first step of the fit.</param>
/// <param name="Candidates">
/// Every start tried with its errors (RMS, nats; infinity when its fit failed): on the held-out last quarter, and the
/// fit's residual on its own window.
/// </param>
/// <param name="Found">False when no candidate could be fitted (the start is then the earliest).</param>
public sealed record FitStartChoice(long Step, IReadOnlyList<(long Start, double HeldOutError, double WindowError)> Candidates, bool Found);
