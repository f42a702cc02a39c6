using FslTorch.Surrogates;
using MathNet.Numerics.LinearAlgebra;

namespace FslTorch.Fitting;

/// <summary>
/// A joint fit of several model sizes (<see cref="SizeLawFitter"/>): the shared parameters, the size laws of L0
/// and A, each size fitted alone for comparison, and the law's parameters at any size.
/// </summary>
public sealed class SizeLawFit
{
    private readonly SizeLawFitter.Layout? _layout;
    private readonly double[] _coordinates;
    private readonly Matrix<double>? _covariance;

    internal SizeLawFit(LossCurveLaw law, double scale, SizeLawFitter.Layout layout, double[] coordinates, Matrix<double>? covariance, double objective,
        FitExitReason reason, IReadOnlyList<double> sizes, IReadOnlyList<FitResult> alone, TimeSpan wallTime, string message)
        : this(law, scale, layout.ReferenceSize, sizes, alone, wallTime, message)
    {
        _layout = layout;
        _coordinates = coordinates;
        _covariance = covariance;
        Objective = objective;
        ExitReason = reason;
    }

    private SizeLawFit(LossCurveLaw law, double scale, double referenceSize, IReadOnlyList<double> sizes, IReadOnlyList<FitResult> alone, TimeSpan wallTime, string message)
    {
        Law = law;
        LearningRateScale = scale;
        ReferenceSize = referenceSize;
        _coordinates = [];
        Objective = double.NaN;
        ExitReason = FitExitReason.Failed;
        Sizes = sizes;
        FitsAlone = alone;
        WallTime = wallTime;
        Message = message;
    }

    internal static SizeLawFit Failed(LossCurveLaw law, double scale, double referenceSize, IReadOnlyList<double> sizes, IReadOnlyList<FitResult> alone, string message, TimeSpan wallTime) =>
        new(law, scale, referenceSize, sizes, alone, wallTime, message);


    /// <summary>The law.</summary>
    public LossCurveLaw Law { get; }
    /// <summary>The LR unit of the fit (the largest LR of all runs).</summary>
    public double LearningRateScale { get; }
    /// <summary>N_ref, the largest fitted size.</summary>
    public double ReferenceSize { get; }
    /// <summary>The distinct fitted sizes, ascending.</summary>
    public IReadOnlyList<double> Sizes { get; }
    /// <summary>Each size fitted alone (same law and options), in the order of <see cref="Sizes"/>.</summary>
    public IReadOnlyList<FitResult> FitsAlone { get; }
    /// <summary>The joint objective at the optimum (NaN when failed).</summary>
    public double Objective { get; }
    /// <summary>How the joint fit ended.</summary>
    public FitExitReason ExitReason { get; }
    /// <summary>Whether the joint fit produced parameters.</summary>
    public bool Succeeded => _layout != null && ExitReason is FitExitReason.Converged or FitExitReason.IterationLimit;
    /// <summary>The joint fit's wall time (the fits alone included).</summary>
    public TimeSpan WallTime { get; }
    /// <summary>What happened, for logs.</summary>
    public string Message { get; }

    /// <summary>
    /// The fitted values by name: E, B, b (L0(N) = E + B·(N/N_ref)^(−b)), A_ref, a (A(N) = A_ref·(N/N_ref)^(−a);
    /// c1_ref in the practical FSL), and every other law parameter, shared by all sizes.
    /// </summary>
    public IReadOnlyDictionary<string, double> NamedParameters => Succeeded ? _layout!.Named(_coordinates) : new Dictionary<string, double>();

    /// <summary>
    /// The law's parameters at model size <paramref name="size"/>, as a fit that predicts any schedule, with the
    /// joint fit's uncertainty carried to them (so <see cref="FitResult.DrawParameters"/> gives its band) and
    /// <see cref="FitResult.SaveParameters"/> writes a parameter file for <c>fsl predict</c> or a run's prior.
    /// </summary>
    /// <exception cref="InvalidOperationException">The joint fit failed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not a finite number &gt; 0.</exception>
    public FitResult ForSize(double size)
    {
        if (!Succeeded) throw new InvalidOperationException($"The size-law fit failed: {Message}");
        if (!(size > 0) || !double.IsFinite(size)) throw new ArgumentOutOfRangeException(nameof(size), size, "The size must be a finite number > 0.");
        int p = Law.Parameters.Count, q = _coordinates.Length;
        var derivative = new double[p, q];
        var theta = _layout!.Parameters(_coordinates, size, derivative);
        // The joint covariance carried to this size's parameters (in the law's fitted coordinates: ln θ where the
        // scale is logarithmic), by the first-order (delta) rule: G·Σ·Gᵀ with G = ∂coordinate/∂z.
        var covariance = new double[p, p];
        var errors = new double[p];
        var g = Matrix<double>.Build.Dense(p, q, (j, k) => Law.Parameters[j].Scale == ParameterScale.Log ? derivative[j, k] / theta[j] : derivative[j, k]);
        var carried = _covariance == null ? null : g * _covariance * g.Transpose();
        for (int j = 0; j < p; j++)
        {
            for (int k = 0; k < p; k++) covariance[j, k] = carried?[j, k] ?? double.NaN;
            double se = Math.Sqrt(covariance[j, j]);
            errors[j] = Law.Parameters[j].Scale == ParameterScale.Log ? theta[j] * se : se;
        }
        return new FitResult(Law, LearningRateScale, theta, Objective, ExitReason, 0, WallTime, errors, covariance,
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"size {size:G4} of a size-law fit of {Sizes.Count} sizes ({Message})"));
    }
}
