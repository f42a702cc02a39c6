namespace FslTorch.Surrogates;

/// <summary>How a fitter should move a parameter.</summary>
public enum ParameterScale
{
    /// <summary>A positive parameter, fitted as its logarithm.</summary>
    Log,
    /// <summary>A real parameter, fitted as it is.</summary>
    Linear,
}
