namespace FslTorch.Schedules;

/// <summary>
/// Factories for the common schedules. Each returns a validated, immutable
/// <see cref="LearningRateSchedule"/>; bigger schedules are joins of these.
/// </summary>
public static class Schedule
{
    /// <summary>η(k) = η. See <see cref="ConstantSchedule"/>.</summary>
    public static LearningRateSchedule Constant(double learningRate) => new ConstantSchedule(learningRate);

    /// <summary>Linear from η_0 to η_1 over S steps, then η_1. See <see cref="DecaySchedule"/>.</summary>
    public static LearningRateSchedule Linear(double initialLearningRate, double finalLearningRate, long transitionSteps) =>
        new DecaySchedule(initialLearningRate, finalLearningRate, Guard.Positive(transitionSteps, nameof(transitionSteps)), DecayShape.Linear);

    /// <summary>Cosine annealing from η_0 to the floor η_1 over S steps, then η_1.</summary>
    public static LearningRateSchedule Cosine(double initialLearningRate, double floorLearningRate, long decaySteps) =>
        new DecaySchedule(initialLearningRate, floorLearningRate, decaySteps, DecayShape.Cosine);

    /// <summary>η_0·r^(k/S), bounded below. See <see cref="ExponentialSchedule"/>.</summary>
    public static LearningRateSchedule Exponential(double initialLearningRate, double decayRate, long transitionSteps = 1,
        bool staircase = false, double floorLearningRate = 0) =>
        new ExponentialSchedule(initialLearningRate, decayRate, transitionSteps, staircase, floorLearningRate);

    /// <summary>Multiply by γ every S steps (PyTorch's StepLR): η_0·γ^⌊k/S⌋.</summary>
    public static LearningRateSchedule Step(double initialLearningRate, long stepSize, double gamma) =>
        new ExponentialSchedule(initialLearningRate, gamma, stepSize, staircase: true);

    /// <summary>Drops by the given factors at the milestones. See <see cref="MultiStepSchedule"/>.</summary>
    public static LearningRateSchedule MultiStep(double initialLearningRate, IReadOnlyList<long> milestones, IReadOnlyList<double> factors) =>
        new MultiStepSchedule(initialLearningRate, milestones, factors);

    /// <summary>The "8-1-1" schedule: ÷√10 at 80% and again at 90% of N.</summary>
    public static LearningRateSchedule EightOneOne(double peakLearningRate, long totalSteps) =>
        MultiStepSchedule.EightOneOne(peakLearningRate, totalSteps);

    /// <summary>A warmup of W steps in front of <paramref name="main"/>. See <see cref="WarmupSchedule"/>.</summary>
    public static LearningRateSchedule WithWarmup(LearningRateSchedule main, long warmupSteps, double initialLearningRate = 0,
        WarmupShape shape = WarmupShape.Linear) =>
        new WarmupSchedule(main, warmupSteps, initialLearningRate, shape);

    /// <summary>
    /// The usual LLM cosine: a linear warmup of W steps from 0, then cosine from η_peak to the target over the
    /// remaining N − W steps.
    /// </summary>
    public static LearningRateSchedule WarmupCosine(double peakLearningRate, long warmupSteps, long totalSteps, DecayTarget target)
    {
        Guard.Positive(peakLearningRate, nameof(peakLearningRate));
        Guard.InRange(warmupSteps, 0, totalSteps - 1, nameof(warmupSteps));
        var cosine = new DecaySchedule(peakLearningRate, target.Resolve(peakLearningRate, nameof(target)), totalSteps - warmupSteps, DecayShape.Cosine);
        return warmupSteps == 0 ? cosine : new WarmupSchedule(cosine, warmupSteps);
    }

    /// <summary>Warmup–stable–decay. See <see cref="WsdSchedule"/>.</summary>
    public static WsdSchedule Wsd(double peakLearningRate, long warmupSteps, long decayStartStep, long totalSteps,
        DecayShape? decayShape = null, DecayTarget? decayTarget = null) =>
        new(peakLearningRate, warmupSteps, decayStartStep, totalSteps, decayShape, decayTarget);

    /// <summary>
    /// Warmup–stable–decay as Hugging Face's <c>get_wsd_schedule</c> describes it: a linear warmup from 0 over
    /// <paramref name="numWarmupSteps"/>, the peak until the decay, then <paramref name="numDecaySteps"/> of
    /// <paramref name="decayType"/> (<c>linear</c>, <c>cosine</c>, <c>1-sqrt</c>, … see <see cref="DecayShape.Parse"/>)
    /// down to <paramref name="minLrRatio"/>·peak. The budget is <paramref name="numTrainingSteps"/>, or warmup +
    /// <paramref name="numStableSteps"/> + decay when only the stable length is given (one of the two is needed).
    /// </summary>
    /// <exception cref="ArgumentException">Neither or both of the budget and the stable length are given, or they do not add up.</exception>
    public static WsdSchedule GetWsdSchedule(double peakLearningRate, long numWarmupSteps, long numDecaySteps, long? numTrainingSteps = null,
        long? numStableSteps = null, string decayType = "cosine", double minLrRatio = 0)
    {
        Guard.NonNegative(numWarmupSteps, nameof(numWarmupSteps));
        Guard.Positive(numDecaySteps, nameof(numDecaySteps));
        Guard.InRange(minLrRatio, 0, 1, nameof(minLrRatio));
        long total = (numTrainingSteps, numStableSteps) switch
        {
            (long n, null) => n,
            (null, long stable) => numWarmupSteps + Guard.NonNegative(stable, nameof(numStableSteps)) + numDecaySteps,
            (long n, long stable) when n == numWarmupSteps + stable + numDecaySteps => n,
            (long n, long stable) => throw new ArgumentException($"numTrainingSteps ({n}) must equal numWarmupSteps + numStableSteps + numDecaySteps ({numWarmupSteps + stable + numDecaySteps}).", nameof(numTrainingSteps)),
            _ => throw new ArgumentException("Give numTrainingSteps or numStableSteps.", nameof(numTrainingSteps)),
        };
        if (numWarmupSteps + numDecaySteps > total)
        {
            throw new ArgumentException($"numWarmupSteps + numDecaySteps ({numWarmupSteps + numDecaySteps}) must not exceed the {total} training steps.", nameof(numDecaySteps));
        }
        return new WsdSchedule(peakLearningRate, numWarmupSteps, total - numDecaySteps, total, DecayShape.Parse(decayType),
            minLrRatio == 0 ? DecayTarget.Zero : DecayTarget.FractionOfPeak(minLrRatio));
    }

    /// <summary>
    /// A schedule from its text form, e.g. <c>wsd:peak=3e-4,warmup=2000,total=24000,decay=0.2,shape=1-sqrt,final=0</c>
    /// or <c>cosine:peak=3e-4,warmup=2000,total=24000,final=0.1</c>; the kinds and keys are listed in the README
    /// ("Schedule specs"). Invalid values are refused by the schedules' own checks.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown kind or key, a missing or malformed value, or values no schedule allows.</exception>
    public static LearningRateSchedule Parse(string spec) => ScheduleSpec.Parse(spec, out _);

    /// <summary>As <see cref="Parse(string)"/>, also giving the run's length when the spec has one (its <c>total</c>).</summary>
    public static LearningRateSchedule Parse(string spec, out long? totalSteps) => ScheduleSpec.Parse(spec, out totalSteps);

    /// <summary>η_peak·(1 − k/N)^q, zero from step N. See <see cref="PowerDecaySchedule"/>.</summary>
    public static LearningRateSchedule PowerDecayToZero(double peakLearningRate, long totalSteps, double exponent) =>
        new PowerDecaySchedule(peakLearningRate, totalSteps, exponent);

    /// <summary>Pieces joined at boundaries. See <see cref="JoinedSchedule"/>.</summary>
    public static LearningRateSchedule Join(IReadOnlyList<LearningRateSchedule> pieces, IReadOnlyList<long> boundaries) =>
        new JoinedSchedule(pieces, boundaries);
}
