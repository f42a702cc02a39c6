namespace FslTorch.Surrogates;

/// <summary>
/// The final-loss power law of compute-optimal scaling studies (Kaplan et al., 2020; Hoffmann et al., 2022;
/// docs/fsl-spec.md §4), for predicting a big run from a sweep of small proxy runs:
/// <code>L(N, D) = E + A·N^(−a) + B·D^(−b)</code>
/// with N the model size (parameters) and D the training data (tokens or steps). Every parameter is positive.
/// </summary>
public static class FinalLossLaw
{
    /// <summary>The parameters in the order of θ.</summary>
    public static IReadOnlyList<LawParameter> Parameters { get; } =
    [
        new("E", "irreducible loss"),
        new("A", "amplitude of the model-size term A·N^(−a)"),
        new("a", "model-size exponent"),
        new("B", "amplitude of the data term B·D^(−b)"),
        new("b", "data exponent"),
    ];

    /// <summary>The formula.</summary>
    public const string Formula = "L(N, D) = E + A·N^(−a) + B·D^(−b)";

    /// <summary>L(N, D).</summary>
    public static double Predict(ReadOnlySpan<double> parameters, double modelSize, double dataSize)
    {
        Validate(parameters, modelSize, dataSize);
        return parameters[0] + parameters[1] * Math.Pow(modelSize, -parameters[2]) + parameters[3] * Math.Pow(dataSize, -parameters[4]);
    }

    /// <summary>∂L/∂θ at (N, D).</summary>
    public static void Gradient(ReadOnlySpan<double> parameters, double modelSize, double dataSize, Span<double> gradient)
    {
        Validate(parameters, modelSize, dataSize);
        if (gradient.Length != 5) throw new ArgumentException("gradient must have 5 entries.", nameof(gradient));
        double n = Math.Pow(modelSize, -parameters[2]), d = Math.Pow(dataSize, -parameters[4]);
        gradient[0] = 1;
        gradient[1] = n;
        gradient[2] = -parameters[1] * Math.Log(modelSize) * n;
        gradient[3] = d;
        gradient[4] = -parameters[3] * Math.Log(dataSize) * d;
    }

    private static void Validate(ReadOnlySpan<double> parameters, double modelSize, double dataSize)
    {
        if (parameters.Length != 5) throw new ArgumentException($"The final-loss law takes 5 parameters (E, A, a, B, b); got {parameters.Length}.", nameof(parameters));
        for (int i = 0; i < 5; i++)
        {
            if (!(parameters[i] > 0) || !double.IsFinite(parameters[i]))
            {
                throw new ArgumentOutOfRangeException(nameof(parameters), parameters[i], $"{Parameters[i].Name} must be finite and > 0.");
            }
        }
        if (!(modelSize > 0) || !double.IsFinite(modelSize)) throw new ArgumentOutOfRangeException(nameof(modelSize), modelSize, "modelSize must be finite and > 0.");
        if (!(dataSize > 0) || !double.IsFinite(dataSize)) throw new ArgumentOutOfRangeException(nameof(dataSize), dataSize, "dataSize must be finite and > 0.");
    }
}
