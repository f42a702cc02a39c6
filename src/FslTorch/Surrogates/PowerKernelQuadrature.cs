using MathNet.Numerics;

namespace FslTorch.Surrogates;

/// <summary>
/// The power-law kernel as a sum of exponentials (docs/fsl-spec.md §5, derived):
/// <code>
/// (1 + x)^(−g) = (1/Γ(g)) ∫_0^∞ y^(g−1) e^(−y) e^(−y·x) dy ≈ Σ_m w_m e^(−y_m·x),
/// y_m = e^(u_m), w_m = h·y_m^g·e^(−y_m)/Γ(g),
/// </code>
/// the trapezoid rule in u = ln y with step h. Its error is about e^(−π²/h) plus the truncated tails; the
/// range of u is chosen so both stay under the requested absolute tolerance for every x ≥ 0. With each
/// mode decaying as e^(−y_m·Δx), a convolution with the kernel becomes Q one-line recursions.
/// </summary>
internal sealed class PowerKernelQuadrature
{
    /// <summary>Default absolute tolerance of the kernel.</summary>
    public const double DefaultTolerance = 1e-10;

    private PowerKernelQuadrature(double exponent, double[] nodes, double[] weights, double[] weightDerivatives)
    {
        Exponent = exponent;
        Nodes = nodes;
        Weights = weights;
        WeightDerivatives = weightDerivatives;
    }

    /// <summary>g.</summary>
    public double Exponent { get; }
    /// <summary>y_m.</summary>
    public double[] Nodes { get; }
    /// <summary>w_m.</summary>
    public double[] Weights { get; }
    /// <summary>∂w_m/∂g = w_m·(ln y_m − ψ(g)).</summary>
    public double[] WeightDerivatives { get; }
    /// <summary>Q, the number of modes.</summary>
    public int Count => Nodes.Length;

    /// <summary>Nodes and weights for exponent g &gt; 0.</summary>
    /// <param name="exponent">g.</param>
    /// <param name="tolerance">Absolute error allowed on the kernel.</param>
    /// <param name="logScaleShift">Extra range added below the nodes (ln of the largest scale ratio the caller needs).</param>
    public static PowerKernelQuadrature Create(double exponent, double tolerance = DefaultTolerance, double logScaleShift = 0)
    {
        (double lower, double upper, double h) = Range(exponent, tolerance);
        lower -= logScaleShift;
        int count = (int)Math.Ceiling((upper - lower) / h) + 1;
        var nodes = new double[count];
        var weights = new double[count];
        var derivatives = new double[count];
        double logGamma = SpecialFunctions.GammaLn(exponent), digamma = SpecialFunctions.DiGamma(exponent);
        for (int m = 0; m < count; m++)
        {
            double u = lower + m * h;
            nodes[m] = Math.Exp(u);
            weights[m] = h * Math.Exp(exponent * u - nodes[m] - logGamma);
            derivatives[m] = weights[m] * (u - digamma);
        }
        return new PowerKernelQuadrature(exponent, nodes, weights, derivatives);
    }

    /// <summary>
    /// The range of u = ln y and the step h for an absolute tolerance ε: below u_lo the integrand holds at
    /// most y_lo^g/(g·Γ(g)) ≤ ε/4; above u_hi, y^g·e^(−y) ≤ ε/4; and h = π²/ln(4/ε) bounds the discretisation error.
    /// </summary>
    internal static (double Lower, double Upper, double Step) Range(double exponent, double tolerance)
    {
        double logEpsilon = Math.Log(tolerance / 4);
        double lower = (logEpsilon + Math.Log(exponent) + SpecialFunctions.GammaLn(exponent)) / exponent - 1;
        double upper = 0;
        while (exponent * upper - Math.Exp(upper) > logEpsilon) upper += 0.25;
        double step = Math.PI * Math.PI / (-logEpsilon);
        return (lower, upper, step);
    }

    /// <summary>Σ_m w_m·e^(−y_m·x), the approximation itself (for tests).</summary>
    public double Evaluate(double x)
    {
        double sum = 0;
        for (int m = 0; m < Count; m++) sum += Weights[m] * Math.Exp(-Nodes[m] * x);
        return sum;
    }
}
