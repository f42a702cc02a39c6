using FslTorch.Schedules;

namespace FslTorch.Surrogates;

/// <summary>
/// A law that predicts the loss at any step of a run from the run's per-step learning rates η_k
/// (warmup included) and a parameter vector θ. Every law offers a fast evaluation, O(N·Q) or better for an
/// N-step trajectory, with the Jacobian ∂L/∂θ, and an exact reference evaluation used in tests.
/// Implementations are immutable and safe to share between threads.
/// </summary>
public abstract class LossCurveLaw
{
    /// <summary>A short name (fsl, fsl-direct, mpl, momentum).</summary>
    public abstract string Name { get; }

    /// <summary>The formula, as in docs/fsl-spec.md.</summary>
    public abstract string Formula { get; }

    /// <summary>The parameters in the order of θ.</summary>
    public abstract IReadOnlyList<LawParameter> Parameters { get; }

    /// <summary>
    /// The parameters that only an LR decay reveals (the response to a drop). A run that has not decayed yet
    /// cannot identify them; online fits take them from a prior (docs/fsl-spec.md §6).
    /// </summary>
    public abstract IReadOnlyList<string> DecayResponseParameters { get; }

    /// <summary>
    /// The loss at each of <paramref name="steps"/> (ascending, each &lt; the schedule's length) and, when
    /// <paramref name="jacobian"/> is not empty, ∂L/∂θ in row-major order (steps × parameters).
    /// </summary>
    public void Evaluate(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian)
    {
        Validate(parameters, schedule, steps);
        if (losses.Length != steps.Length) throw new ArgumentException($"losses must have one entry per step ({steps.Length}).", nameof(losses));
        if (!jacobian.IsEmpty && jacobian.Length != steps.Length * Parameters.Count)
        {
            throw new ArgumentException($"jacobian must be empty or have {steps.Length}×{Parameters.Count} entries.", nameof(jacobian));
        }
        jacobian.Clear();
        EvaluateCore(parameters, schedule, steps, losses, jacobian);
    }

    /// <summary>The fast prediction at <paramref name="steps"/>.</summary>
    public double[] Predict(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps)
    {
        var losses = new double[steps.Length];
        Evaluate(parameters, schedule, steps, losses, Span<double>.Empty);
        return losses;
    }

    /// <summary>The prediction by the exact O(N²) sums, for tests and reference.</summary>
    public double[] PredictExact(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps)
    {
        Validate(parameters, schedule, steps);
        var losses = new double[steps.Length];
        PredictExactCore(parameters, schedule, steps, losses);
        return losses;
    }

    /// <summary>
    /// Starting points for a fit in peak-normalised LR units (η/η_peak, so T counts peak steps), given the
    /// reduced law L ≈ L0 + A·T^(−α) fitted to the same points: the reduced law's values where the law has
    /// them, and a small grid over the parameters it cannot see (the response to LR changes).
    /// </summary>
    public abstract IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha);

    /// <summary>
    /// The parameters that describe the same curves when the LR is measured in another unit: with
    /// <paramref name="ratio"/> = old unit / new unit, every η (and the intrinsic time) becomes ratio times larger
    /// and the returned parameters predict exactly what <paramref name="parameters"/> did. Fits work in the unit of
    /// their peak LR (<see cref="Fitting.FitResult.LearningRateScale"/>), so a prior from a run with another peak
    /// must be converted before it is used.
    /// </summary>
    /// <exception cref="NotSupportedException">The law does not know how its parameters scale.</exception>
    public double[] ConvertLearningRateUnit(ReadOnlySpan<double> parameters, double ratio)
    {
        if (parameters.Length != Parameters.Count) throw new ArgumentException($"{Name} has {Parameters.Count} parameters; got {parameters.Length}.", nameof(parameters));
        if (!(ratio > 0) || !double.IsFinite(ratio)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must be a finite number > 0.");
        var converted = parameters.ToArray();
        ConvertLearningRateUnitCore(converted, ratio);
        return converted;
    }

    /// <summary>Rewrites <paramref name="parameters"/> in place for <see cref="ConvertLearningRateUnit"/>.</summary>
    protected virtual void ConvertLearningRateUnitCore(double[] parameters, double ratio) =>
        throw new NotSupportedException($"{Name} does not say how its parameters depend on the LR unit.");

    /// <summary>
    /// The same law with another absolute tolerance for its sum-of-exponentials kernel (fits use a looser one:
    /// fewer modes, faster evaluations); this law itself when it has no kernel.
    /// </summary>
    public virtual LossCurveLaw WithKernelTolerance(double tolerance) => this;

    /// <summary>
    /// The same law evaluated with the sources of each constant-LR stretch merged into blocks whose intrinsic
    /// length is at most <paramref name="fraction"/> of the time scale elapsed before them (fits and forecasts of
    /// long runs; the laws whose every step is a source gain most); this law itself when it has no such option.
    /// </summary>
    public virtual LossCurveLaw WithSourceBlocks(double fraction) => this;

    /// <summary>
    /// The relative LR spread within which fits merge a smoothly changing LR into one block of its mean
    /// (<see cref="Fitting.FitOptions.ScheduleBlockSpread"/>, which overrides it); 0, fixed 8-step blocks, unless a law
    /// is known to lose nothing by it. Laws that respond to each step's LR decrease (MPL) fit worse on the coarser staircase.
    /// </summary>
    public virtual double FitScheduleBlockSpread => 0;

    /// <summary>
    /// The law this one extends by parameters appended after the nested law's own, equal to this law when they take
    /// <see cref="NestedValues"/>; null when it extends none. <see cref="Fitting.LawFitter"/> fits the nested law first
    /// and also refines its optimum, so that a fit of this law starts where the nested law ends: with the extra
    /// parameters free, the multi-start alone can end in another account of the curves that fits them worse.
    /// </summary>
    public virtual LossCurveLaw? NestedLaw => null;

    /// <summary>The values of the parameters appended to <see cref="NestedLaw"/>'s at which this law is that law.</summary>
    public virtual IReadOnlyList<double> NestedValues => [];

    /// <summary>The fast evaluation; <paramref name="jacobian"/> is zeroed or empty.</summary>
    protected abstract void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses, Span<double> jacobian);

    /// <summary>The exact evaluation.</summary>
    protected abstract void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps,
        Span<double> losses);

    /// <summary>
    /// The amplitude of the law's power law in time (A; c1 in the practical FSL): with the irreducible loss L0, what sets
    /// a curve's level rather than its shape (model size moves both, <see cref="Fitting.SizeLawFitter"/>).
    /// </summary>
    public string AmplitudeParameter => Parameters.Any(p => p.Name == "A") ? "A" : "c1";

    /// <summary>The index of the parameter named <paramref name="name"/>.</summary>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (Parameters[i].Name == name) return i;
        }
        throw new ArgumentException($"{Name} has no parameter '{name}'.", nameof(name));
    }

    private void Validate(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (parameters.Length != Parameters.Count)
        {
            throw new ArgumentException($"{Name} takes {Parameters.Count} parameters ({string.Join(", ", Parameters.Select(p => p.Name))}); got {parameters.Length}.", nameof(parameters));
        }
        for (int i = 0; i < parameters.Length; i++)
        {
            if (!double.IsFinite(parameters[i]) || (Parameters[i].Scale == ParameterScale.Log && parameters[i] <= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(parameters), parameters[i],
                    $"{Name} parameter {Parameters[i].Name} must be {(Parameters[i].Scale == ParameterScale.Log ? "finite and > 0" : "finite")}.");
            }
        }
        for (int i = 0; i < steps.Length; i++)
        {
            if (steps[i] < 0 || steps[i] >= schedule.Count || (i > 0 && steps[i] <= steps[i - 1]))
            {
                throw new ArgumentException($"steps must be strictly increasing and within [0, {schedule.Count - 1}]; steps[{i}] = {steps[i]}.", nameof(steps));
            }
        }
    }
}
