using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Tests.Control;

/// <summary>
/// A law with a known answer: the loss at the last step is 3 + 0.1·(D/N − optimum)², where D is the first
/// step after the peak at which the LR falls (N when it never does), whatever the fitted L0; elsewhere
/// L0 + 1/(1 + T). It can also be told to throw, like a law pushed outside its domain.
/// </summary>
internal sealed class FakeDecayLaw(double optimumFraction, bool throws = false, double offset = 0) : LossCurveLaw
{
    public int Evaluations;

    public override string Name => "fake";
    public override string Formula => "L0 + 0.1·(D/N − f*)² at the last step";
    public override IReadOnlyList<LawParameter> Parameters { get; } = [new("L0", "offset")];
    public override IReadOnlyList<string> DecayResponseParameters => [];
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => [[l0]];

    public double OptimumFraction => optimumFraction;

    /// <summary>
    /// A converged fit of <paramref name="law"/>; <paramref name="offset"/> shifts its final-loss forecast. Its one parameter
    /// has a small variance (the final loss does not depend on it, so parameter draws give a gain of waiting certain to 0);
    /// <paramref name="withoutCovariance"/> leaves the covariance unknown (NaN), as a fit at the edge of its domain may.
    /// </summary>
    public static FitResult Fit(LossCurveLaw law, double l0 = 3.0, double offset = 0, bool withoutCovariance = false) =>
        new(offset == 0 ? law : new FakeDecayLaw(((FakeDecayLaw)law).OptimumFraction, offset: offset), 1.0, [l0], 0,
            FitExitReason.Converged, 1, TimeSpan.Zero, [withoutCovariance ? double.NaN : 1e-3],
            new double[1, 1] { { withoutCovariance ? double.NaN : 1e-6 } }, "fake");

    protected override void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
    {
        Interlocked.Increment(ref Evaluations);
        if (throws) throw new ArgumentOutOfRangeException(nameof(parameters), "the fake law refuses");
        var eta = schedule.LearningRates;
        int peak = 0;
        for (int k = 1; k < eta.Length; k++) if (eta[k] > eta[peak]) peak = k;
        int decay = eta.Length;
        for (int k = peak + 1; k < eta.Length; k++)
        {
            if (eta[k] < eta[peak]) { decay = k - 1; break; }
        }
        for (int i = 0; i < steps.Length; i++)
        {
            losses[i] = steps[i] == eta.Length - 1
                ? 3.0 + offset + 0.1 * Math.Pow((double)decay / eta.Length - optimumFraction, 2)
                : parameters[0] + 1 / (1 + schedule.IntrinsicTime[steps[i]]);
            if (!jacobian.IsEmpty) jacobian[i] = steps[i] == eta.Length - 1 ? 0 : 1;
        }
    }

    protected override void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
        EvaluateCore(parameters, schedule, steps, losses, Span<double>.Empty);
}
