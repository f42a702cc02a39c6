namespace FslTorch.Schedules;

/// <summary>
/// The shape of a decay from η_0 to η_1 as a function of the progress p ∈ [0, 1]:
/// η(p) = η_1 + (η_0 − η_1)·f(p) with f(0) = 1 and f(1) = 0, except <see cref="Geometric"/>, which
/// interpolates in log space. Every shape is non-increasing when η_0 ≥ η_1.
/// </summary>
public abstract class DecayShape
{
    private protected DecayShape(string name) => Name = name;

    /// <summary>A short name (linear, cosine, 1-sqrt, geometric, power(q)).</summary>
    public string Name { get; }

    /// <summary>f(p) = 1 − p.</summary>
    public static DecayShape Linear { get; } = new Factor("linear", p => 1 - p);

    /// <summary>f(p) = (1 + cos πp)/2.</summary>
    public static DecayShape Cosine { get; } = new Factor("cosine", p => 0.5 * (1 + Math.Cos(Math.PI * p)));

    /// <summary>f(p) = 1 − √p (the "1−sqrt" cooldown of Hägele et al., 2024).</summary>
    public static DecayShape OneMinusSqrt { get; } = new Factor("1-sqrt", p => 1 - Math.Sqrt(p));

    /// <summary>η(p) = η_0·(η_1/η_0)^p: exponential decay in the step. Needs η_1 &gt; 0.</summary>
    public static DecayShape Geometric { get; } = new GeometricShape();

    /// <summary>f(p) = (1 − p)^q; q = 1 is linear.</summary>
    /// <param name="exponent">q, &gt; 0.</param>
    public static DecayShape Power(double exponent)
    {
        double q = Guard.Positive(exponent, nameof(exponent));
        return new Factor(FormattableString.Invariant($"power({q})"), p => Math.Pow(1 - p, q));
    }

    /// <summary>
    /// The shape named <paramref name="name"/>: <c>linear</c>, <c>cosine</c>, <c>1-sqrt</c> (also <c>1-square-root</c>,
    /// Hugging Face's <c>1-sqrt</c>), <c>geometric</c> (also <c>exponential</c>) or <c>power(q)</c> / <c>power:q</c>;
    /// case-insensitive. The inverse of <see cref="Name"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No shape has that name.</exception>
    public static DecayShape Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        switch (key)
        {
            case "linear": return Linear;
            case "cosine": return Cosine;
            case "1-sqrt" or "1-square-root" or "one-minus-sqrt": return OneMinusSqrt;
            case "geometric" or "exponential": return Geometric;
        }
        string? exponent = key.StartsWith("power(", StringComparison.Ordinal) && key.EndsWith(')') ? key[6..^1]
            : key.StartsWith("power:", StringComparison.Ordinal) ? key[6..] : null;
        if (exponent != null && double.TryParse(exponent, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double q) && q > 0 && double.IsFinite(q))
        {
            return Power(q);
        }
        throw new ArgumentException($"Unknown decay shape '{name}': expected linear, cosine, 1-sqrt, geometric or power(q) with q > 0.", nameof(name));
    }

    /// <summary>The rate at progress <paramref name="progress"/> of a decay from η_0 to η_1.</summary>
    public abstract double Interpolate(double initialLearningRate, double finalLearningRate, double progress);

    /// <summary>Checks that this shape can decay between the two rates (both already known to be &gt;= 0).</summary>
    internal virtual void Validate(double initialLearningRate, double finalLearningRate, string initialName, string finalName)
    {
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class Factor(string name, Func<double, double> factor) : DecayShape(name)
    {
        public override double Interpolate(double initialLearningRate, double finalLearningRate, double progress)
        {
            // f·η_0 + (1 − f)·η_1 is exact at both ends (f = 1 gives η_0, f = 0 gives η_1).
            double f = factor(progress);
            return f * initialLearningRate + (1 - f) * finalLearningRate;
        }
    }

    private sealed class GeometricShape() : DecayShape("geometric")
    {
        public override double Interpolate(double initialLearningRate, double finalLearningRate, double progress) =>
            progress >= 1 ? finalLearningRate : initialLearningRate * Math.Pow(finalLearningRate / initialLearningRate, progress);

        internal override void Validate(double initialLearningRate, double finalLearningRate, string initialName, string finalName)
        {
            Guard.Positive(initialLearningRate, initialName);
            Guard.Positive(finalLearningRate, finalName);
        }
    }
}
