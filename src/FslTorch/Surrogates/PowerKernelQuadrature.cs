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
    /// <summary>The most modes a kernel may have (a bound far beyond any fit's needs, that keeps a wild trial step cheap).</summary>
    public const int MaxModes = 2000;

    /// <summary>
    /// The largest exponent g supported: the trapezoid step for large g is 0.4/√g over a bump about two units of ln y
    /// wide, so from g ≈ 1.6·10⁵ on a kernel needs more than <see cref="MaxModes"/> modes anyway.
    /// </summary>
    public const double MaxExponent = 1e6;

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

    /// <summary>Nodes and weights for exponent g &gt; 0, accurate for 0 ≤ x ≤ <paramref name="maxArgument"/>.</summary>
    /// <param name="exponent">g.</param>
    /// <param name="tolerance">Absolute error allowed on the kernel.</param>
    /// <param name="maxArgument">
    /// The largest x the caller evaluates. Modes with y·x_max ≤ ε never decay noticeably over the run, so
    /// they are lumped into one mode at y = 0 whose weight is the rest of the quadrature, 1 − Σ w_m (the full
    /// sum is 1 to within ε: the case x = 0). This bounds the number of modes for small g, whose tail
    /// y^(g−1) near 0 would otherwise need thousands.
    /// </param>
    public static PowerKernelQuadrature Create(double exponent, double tolerance = DefaultTolerance, double maxArgument = double.PositiveInfinity)
    {
        if (!(exponent > 0) || !double.IsFinite(exponent)) throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "The kernel exponent must be finite and > 0.");
        if (double.IsNaN(maxArgument) || maxArgument < 0) throw new ArgumentOutOfRangeException(nameof(maxArgument), maxArgument, "maxArgument must be >= 0.");
        (double lower, double upper, double h) = Range(exponent, tolerance);
        double cut = double.IsPositiveInfinity(maxArgument) ? double.NegativeInfinity
            : maxArgument == 0 ? double.PositiveInfinity : Math.Log(tolerance / maxArgument);
        double first = cut > lower ? lower + Math.Ceiling((cut - lower) / h) * h : lower;
        double modes = Math.Max(0, Math.Ceiling((upper - first) / h) + 1);
        if (modes > MaxModes)
        {
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent,
                $"(1 + x)^(−{exponent}) over x ≤ {maxArgument} needs more than {MaxModes} modes; the exponent or the range is outside what this evaluation supports.");
        }
        int kept = (int)modes;
        var nodes = new double[kept + 1];
        var weights = new double[kept + 1];
        var derivatives = new double[kept + 1];
        double logGamma = SpecialFunctions.GammaLn(exponent), digamma = SpecialFunctions.DiGamma(exponent);
        double weightSum = 0, derivativeSum = 0;
        for (int m = 1; m <= kept; m++)
        {
            double u = first + (m - 1) * h;
            nodes[m] = Math.Exp(u);
            weights[m] = h * Math.Exp(exponent * u - nodes[m] - logGamma);
            derivatives[m] = weights[m] * (u - digamma);
            weightSum += weights[m];
            derivativeSum += derivatives[m];
        }
        // Mode 0 (y = 0): the lumped slow modes.
        weights[0] = Math.Max(0, 1 - weightSum);
        derivatives[0] = -derivativeSum;
        return new PowerKernelQuadrature(exponent, nodes, weights, derivatives);
    }

    /// <summary>
    /// The range of u = ln y and the step h for an absolute tolerance ε: below u_lo the integrand holds at
    /// most y_lo^g/(g·Γ(g)) ≤ ε/4; above u_hi, y^g·e^(−y)/Γ(g) ≤ ε/4. The step bounds the discretisation error:
    /// h = π²/(ln(4/ε)·(1 + g/4)) (e^(−π²/h) alone underestimates it as g grows; checked for 0.05 ≤ g ≤ 5), and
    /// for large g at most 0.45/√g: the integrand e^(g·u − e^u) is then a bump of width 1/√g around u = ln g,
    /// and the trapezoid rule needs a fixed number of nodes per width, not ever more (checked up to g = 2000).
    /// </summary>
    internal static (double Lower, double Upper, double Step) Range(double exponent, double tolerance)
    {
        // Beyond MaxExponent the bump's 5·√g nodes alone exceed MaxModes, and far beyond it (g ≈ 10²⁸) the stride falls
        // below the spacing of doubles at ln g, so that the search for the upper end would never advance.
        if (!(exponent > 0) || !(exponent <= MaxExponent))
        {
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, $"The kernel exponent must be in (0, {MaxExponent:E0}]; larger ones need more than {MaxModes} modes.");
        }
        double logEpsilon = Math.Log(tolerance / 4);
        double logGamma = SpecialFunctions.GammaLn(exponent);
        double lower = (logEpsilon + Math.Log(exponent) + logGamma) / exponent - 1;
        double upper = Math.Max(0, Math.Log(exponent));
        double stride = Math.Min(0.25, 1 / Math.Sqrt(exponent));
        while (exponent * upper - Math.Exp(upper) - logGamma > logEpsilon) upper += stride;
        double step = exponent <= 5 ? Math.PI * Math.PI / (-logEpsilon * (1 + exponent / 4)) : 0.4 / Math.Sqrt(exponent);
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
