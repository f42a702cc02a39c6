using System.Diagnostics;
using FslTorch.Fitting;
using FslTorch.Surrogates;

namespace FslTorch.Cli;

/// <summary>Scores of one predicted run.</summary>
internal sealed record RunScore(string Run, CurveMetrics Standard, CurveMetrics Strict)
{
    /// <summary>Why this run has no prediction (the fit failed or could not be evaluated on its schedule); null when it has one.</summary>
    public string? Failure { get; init; }
}

/// <summary>One law's fit and its scores on the predicted runs.</summary>
internal sealed record LawScore(string Law, FitResult Fit, double FitSeconds, CurveMetrics Standard, CurveMetrics Strict, IReadOnlyList<RunScore> PerRun);

/// <summary>
/// The fit-then-predict protocol of the Multi-Power Law paper: fit a law on some runs jointly, predict the
/// others, and score every point ("standard") or only the true forecast segment ("strict": the points from
/// the step where the run's LR first differs from the LR of every fitted run at the same step).
/// </summary>
internal static class Protocol
{
    /// <summary>
    /// The laws of the benchmark, in the order of its JSON: first <c>auto</c>, the law <c>fsl fit</c> picks for the runs fitted
    /// (<see cref="LossCurveLaws.ForRuns"/>), then each law.
    /// </summary>
    public static IReadOnlyList<string> DefaultLaws { get; } = [LossCurveLaws.Auto, "fsl", "fsl-direct", "fsl-direct-omega", "mpl", "momentum"];

    /// <summary>A law by name (see <see cref="LossCurveLaws.Names"/>).</summary>
    public static LossCurveLaw Law(string name) => LossCurveLaws.Create(name);

    /// <summary>A law by name, or (<c>auto</c>) the one <see cref="LossCurveLaws.ForRuns"/> picks for <paramref name="runs"/>.</summary>
    public static LossCurveLaw Law(string name, IReadOnlyList<ObservedCurve> runs) =>
        name == LossCurveLaws.Auto ? LossCurveLaws.ForRuns(runs) : LossCurveLaws.Create(name);

    /// <summary>Throws the usual message for a name that is neither a law nor <c>auto</c>, before any work.</summary>
    public static void CheckLawName(string name)
    {
        if (name != LossCurveLaws.Auto) LossCurveLaws.Create(name);
    }

    /// <summary>
    /// Each named law fitted to <paramref name="fit"/> (with <paramref name="prior"/>'s prior for it) and scored on
    /// <paramref name="predict"/>; <c>auto</c> is the law picked for <paramref name="choiceRuns"/> (the fitted runs when null),
    /// labelled <c>auto (law)</c>, and a law named twice this way is fitted once.
    /// </summary>
    public static List<LawScore> RunAll(IReadOnlyList<string> names, IReadOnlyList<ObservedCurve> fit, IReadOnlyList<ObservedCurve> predict,
        FitOptions? options = null, Func<LossCurveLaw, ParameterPrior?>? prior = null, IReadOnlyList<ObservedCurve>? choiceRuns = null)
    {
        var done = new Dictionary<string, LawScore>();
        LawScore Scored(LossCurveLaw law)
        {
            if (!done.TryGetValue(law.Name, out var score)) done[law.Name] = score = Run(law, fit, predict, options, prior?.Invoke(law));
            return score;
        }
        LawScore ScoreOf(string name)
        {
            if (name != LossCurveLaws.Auto) return Scored(LossCurveLaws.Create(name));
            var picked = Scored(LossCurveLaws.ForRuns(choiceRuns ?? fit));
            return picked with { Law = $"{LossCurveLaws.Auto} ({picked.Law})" };
        }
        return names.Select(ScoreOf).ToList();
    }

    public static LawScore Run(LossCurveLaw law, IReadOnlyList<ObservedCurve> fit, IReadOnlyList<ObservedCurve> predict, FitOptions? options = null,
        ParameterPrior? prior = null)
    {
        var clock = Stopwatch.StartNew();
        var result = LawFitter.Fit(new FitProblem(law, fit) { Prior = prior }, options);
        double seconds = clock.Elapsed.TotalSeconds;
        var perRun = predict.Select(run => Score(run, result, FirstForecastStep(run, fit))).ToList();
        return new LawScore(law.Name, result, seconds, CurveMetrics.Average(perRun.Select(r => r.Standard)),
            CurveMetrics.Average(perRun.Select(r => r.Strict)), perRun);
    }

    /// <summary>Scores fixed parameters (e.g. a published fit) instead of fitting.</summary>
    public static IReadOnlyList<RunScore> Score(LossCurveLaw law, double[] parameters, IReadOnlyList<ObservedCurve> fit, IReadOnlyList<ObservedCurve> predict) =>
        predict.Select(run =>
        {
            // Published parameters are in raw LR units: a fit restored at unit 1.
            var predicted = FitResult.FromParameters(law, 1.0, parameters).Predict(run.Schedule.LearningRates.ToArray(), run.Steps.ToArray());
            return Score(run, predicted, FirstForecastStep(run, fit));
        }).ToList();

    public static RunScore Score(ObservedCurve run, FitResult fit, int forecastFrom)
    {
        var predicted = Enumerable.Repeat(double.NaN, run.Count).ToArray();
        string? failure = fit.Succeeded ? null : fit.Message;
        if (fit.Succeeded)
        {
            try
            {
                predicted = fit.Predict(run.Schedule.LearningRates.ToArray(), run.Steps.ToArray());
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                failure = e.Message; // reported per run; the other runs and laws go on
            }
        }
        return Score(run, predicted, forecastFrom) with { Failure = failure };
    }

    private static RunScore Score(ObservedCurve run, double[] predicted, int forecastFrom)
    {
        // Like the fits, the scores leave out the warmup (the points before the run's peak LR).
        int peak = run.Schedule.PeakStep;
        var standard = Enumerable.Range(0, run.Count).Where(i => run.Steps[i] >= peak).ToList();
        var strict = standard.Where(i => run.Steps[i] >= forecastFrom).ToList();
        return new RunScore(run.Name,
            CurveMetrics.Compute(standard.Select(i => run.Losses[i]).ToList(), standard.Select(i => predicted[i]).ToList()),
            CurveMetrics.Compute(strict.Select(i => run.Losses[i]).ToList(), strict.Select(i => predicted[i]).ToList()));
    }

    /// <summary>
    /// The first step from which no fitted run shares this run's LR history: the latest, over fitted runs, of
    /// the first step where the two LRs differ (or where the fitted run ends).
    /// </summary>
    public static int FirstForecastStep(ObservedCurve run, IReadOnlyList<ObservedCurve> fitted)
    {
        var rates = run.Schedule.LearningRates;
        int first = 0;
        foreach (var other in fitted)
        {
            var otherRates = other.Schedule.LearningRates;
            int k = 0;
            while (k < rates.Length && k < otherRates.Length && rates[k] == otherRates[k]) k++;
            first = Math.Max(first, k);
        }
        return first;
    }
}
