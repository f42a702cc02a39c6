using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace FslTorch.Tests.TestSupport;

/// <summary>
/// A law that evaluates as another does, with <see cref="BeforeEvaluate"/> called before each evaluation: for tests that
/// count evaluations, see which thread makes them, or make them slow.
/// </summary>
internal abstract class DelegatingLaw(LossCurveLaw inner) : LossCurveLaw
{
    public override string Name => inner.Name;
    public override string Formula => inner.Formula;
    public override IReadOnlyList<LawParameter> Parameters => inner.Parameters;
    public override IReadOnlyList<string> DecayResponseParameters => inner.DecayResponseParameters;
    public override IEnumerable<double[]> InitialGuesses(double l0, double a, double alpha) => inner.InitialGuesses(l0, a, alpha);
    public override LossCurveLaw WithKernelTolerance(double tolerance) => this;
    public override LossCurveLaw WithSourceBlocks(double fraction) => this;

    /// <summary>Called before each evaluation of the law.</summary>
    protected abstract void BeforeEvaluate();

    protected override void ConvertLearningRateUnitCore(double[] parameters, double ratio) =>
        inner.ConvertLearningRateUnit(parameters, ratio).CopyTo(parameters, 0);

    protected override void EvaluateCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses, Span<double> jacobian)
    {
        BeforeEvaluate();
        inner.Evaluate(parameters, schedule, steps, losses, jacobian);
    }

    protected override void PredictExactCore(ReadOnlySpan<double> parameters, SampledSchedule schedule, ReadOnlySpan<int> steps, Span<double> losses) =>
        EvaluateCore(parameters, schedule, steps, losses, Span<double>.Empty);
}
