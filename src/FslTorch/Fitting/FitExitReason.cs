namespace FslTorch.Fitting;

/// <summary>Why a fit stopped.</summary>
public enum FitExitReason
{
    /// <summary>The minimizer met a convergence test.</summary>
    Converged,
    /// <summary>The iteration limit was reached first; the parameters are the best found.</summary>
    IterationLimit,
    /// <summary>No start produced a finite objective, or the minimizer failed; see the message.</summary>
    Failed,
    /// <summary>The caller cancelled the fit.</summary>
    Cancelled,
}
