using FslTorch.Fitting;
using System.Globalization;
using System.Text.Json;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace TinyGpt;

/// <summary>
/// A forecast made during the run, checked against the end: its final-loss forecast under the schedule as it
/// stood then, and the same fit's forecast under the schedule as it actually ran (they differ when the monitor
/// moved the decay start later).
/// </summary>
public sealed record ForecastCheck(double Fraction, long Step, double FinalLoss, double Lower, double Upper, double FinalLossAsRun)
{
    /// <summary>Whether the forecast was calibrated on the run's own hindcast (false: "cannot forecast yet").</summary>
    public bool Calibrated { get; init; }

    /// <summary>
    /// How far the smoothed training loss at the last step (what <see cref="RunSummary.FinalTrainingLoss"/> reports) was
    /// forecast to lie above the loss itself (<see cref="FslTorch.Control.Forecast.SmoothingLag"/>; for forecasts logged
    /// before that was, the same from the forecast's fit under the schedule as run). 0 in summaries from before it.
    /// </summary>
    public double SmoothingLag { get; init; }

    /// <summary>The forecast of the smoothed final training loss, which <see cref="RunSummary.FinalTrainingLoss"/> measures: <see cref="FinalLoss"/> + <see cref="SmoothingLag"/>.</summary>
    public double SmoothedFinalLoss => FinalLoss + SmoothingLag;
}

/// <summary>What a finished run reports (summary.json): final losses, the forecast checks, the decay start.</summary>
public sealed record RunSummary(
    string Schedule, long Steps, long Parameters, double FinalEvalLoss, double FinalTrainingLoss, long? DecayStartStep,
    string? DecayReason, IReadOnlyList<ForecastCheck> Forecasts, double WallSeconds)
{
    /// <summary>The wall time the monitor took inside the loop (refits, hindcasts, decisions), in this process.</summary>
    public double MonitorSeconds { get; init; }

    /// <summary>The part of <see cref="MonitorSeconds"/> that the forecaster's refits, hindcasts and forecasts and the decisions made from them took on the training thread (Forecaster.WallTime), in this process.</summary>
    public double ForecasterSeconds { get; init; }

    /// <summary>The part of <see cref="MonitorSeconds"/> spent holding the finalizer thread (TrainingMonitor.FinalizerHoldWallTime).</summary>
    public double FinalizerHoldSeconds { get; init; }

    /// <summary>
    /// The wall time of the refits that ran in the background (<c>--background-refits</c>), off the training thread and
    /// not in <see cref="MonitorSeconds"/>, in this process (as the other times); 0 when they ran inline.
    /// </summary>
    public double BackgroundRefitSeconds { get; init; }

    /// <summary>Training steps spent on cooldown probes (beside the run's own steps).</summary>
    public long ProbeSteps { get; init; }

    /// <summary>The wall time the cooldown probes took in this process.</summary>
    public double ProbeSeconds { get; init; }

    /// <summary>The training steps the run took (its budget unless it was aborted; 0 in summaries from before this field).</summary>
    public long StepsRun { get; init; }

    /// <summary>Why the monitor aborted the run (<c>--abort-above</c>); null for a run that went to its end.</summary>
    public string? AbortReason { get; init; }

    /// <summary>The steps the run took: <see cref="StepsRun"/>, or the budget in older summaries.</summary>
    public long StepsTaken => StepsRun > 0 ? StepsRun : Steps;

    /// <summary>The monitor's share of this process's wall time.</summary>
    public double MonitorShare => WallSeconds > 0 ? MonitorSeconds / WallSeconds : double.NaN;

    /// <summary>The fractions of training at which the forecasts are checked.</summary>
    public static readonly double[] CheckedFractions = [0.25, 0.5, 0.75];

    /// <summary>
    /// The last forecast logged before each fraction of the budget (from forecasts.jsonl, so resumed and branched
    /// runs count the forecasts of the steps before them), re-evaluated under <paramref name="asRun"/>.
    /// </summary>
    public static IReadOnlyList<ForecastCheck> CheckForecasts(string forecastsFile, LearningRateSchedule asRun, long total)
    {
        if (!File.Exists(forecastsFile)) return [];
        var logged = File.ReadLines(forecastsFile).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var rates = asRun.Sample(total);
        var checks = new List<ForecastCheck>();
        foreach (double fraction in CheckedFractions)
        {
            var made = logged.LastOrDefault(f => f.GetProperty("step").GetInt64() < fraction * total);
            if (made.ValueKind != JsonValueKind.Object) continue;
            var law = LossCurveLaws.Create(made.GetProperty("law").GetString()!);
            var values = made.GetProperty("parameters");
            var fit = FitResult.FromParameters(law, made.GetProperty("lr_scale").GetDouble(), law.Parameters.Select(p => values.GetProperty(p.Name).GetDouble()).ToArray());
            double asRunFinal, lag = made.TryGetProperty("smoothing_lag", out var ownLag) ? ownLag.GetDouble() : 0;
            try
            {
                // The forecast's share of a cooldown gain the probes did not show (Forecast.FinalLoss) carries over.
                double unseenShare = made.TryGetProperty("unseen_gain", out var unseen) ? FslTorch.Control.Forecast.UnseenGainShare * unseen.GetDouble() : 0;
                asRunFinal = fit.Predict(rates, [(int)total - 1], fast: true)[0] + unseenShare;
                if (ownLag.ValueKind != JsonValueKind.Number) lag = fit.SmoothingLag(rates, new FslTorch.Tracking.LossTrackerOptions().EmaHalfLifeSteps);
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                asRunFinal = double.NaN; // parameters outside what the law can evaluate: no re-evaluated forecast
            }
            checks.Add(new ForecastCheck(fraction, made.GetProperty("step").GetInt64(), made.GetProperty("final_loss").GetDouble(),
                made.GetProperty("lower").GetDouble(), made.GetProperty("upper").GetDouble(), asRunFinal)
            {
                Calibrated = made.TryGetProperty("calibrated", out var calibrated) && calibrated.ValueKind == JsonValueKind.True,
                SmoothingLag = lag,
            });
        }
        return checks;
    }

    // NaN (a forecast the law could not evaluate, a run without evaluation) is written as "NaN".
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes the summary as indented JSON.</summary>
    public void Write(string path) => FslTorch.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>Reads a summary written by <see cref="Write"/>.</summary>
    public static RunSummary Read(string path) =>
        JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), JsonOptions) ?? throw new InvalidDataException($"{path} holds no summary.");

    /// <summary>The summary's lines for the console.</summary>
    public IEnumerable<string> Lines()
    {
        if (AbortReason != null) yield return string.Create(CultureInfo.InvariantCulture, $"aborted after {StepsTaken} of {Steps} steps: {AbortReason}");
        yield return string.Create(CultureInfo.InvariantCulture, $"final eval loss {FinalEvalLoss:F4}, final training loss (smoothed) {FinalTrainingLoss:F4}");
        var half = Forecasts.FirstOrDefault(f => f.Fraction == 0.5);
        yield return half == null
            ? "no forecast was available at 50% of training"
            : string.Create(CultureInfo.InvariantCulture,
                $"forecast made at step {half.Step} (50%): final training loss {half.FinalLoss:F4} [{half.Lower:F4}, {half.Upper:F4}]{(half.Calibrated ? "" : " (not calibrated: the forecasts said they could not forecast yet)")}" +
                $"{(Math.Abs(half.FinalLossAsRun - half.FinalLoss) > 5e-5 ? $" ({half.FinalLossAsRun:F4} under the schedule as run)" : "")}, smoothed {half.SmoothedFinalLoss:F4}; actual (smoothed) {FinalTrainingLoss:F4}, eval {FinalEvalLoss:F4}");
        string probes = ProbeSteps > 0
            ? string.Create(CultureInfo.InvariantCulture, $"; cooldown probes {ProbeSteps} steps ({(double)ProbeSteps / Steps:P1} of the budget), {ProbeSeconds:F1} s")
            : "";
        string background = BackgroundRefitSeconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $" on the training thread; its refits ran {BackgroundRefitSeconds:F1} s in the background")
            : "";
        string parts = MonitorSeconds > 0
            ? string.Create(CultureInfo.InvariantCulture, $" (refits, hindcasts and decisions {ForecasterSeconds:F1} s; finalizer hold {FinalizerHoldSeconds:F1} s)")
            : "";
        yield return string.Create(CultureInfo.InvariantCulture, $"the monitor took {MonitorSeconds:F1} s of {WallSeconds:F1} s ({MonitorShare:P2}){parts}{background}{probes}");
        if (DecayStartStep is long decay)
        {
            yield return DecayReason == null
                ? $"the decay started at step {decay}, as planned"
                : string.Create(CultureInfo.InvariantCulture, $"the decay started at step {decay} (cooldown {(double)(Steps - decay) / Steps:P0}): {DecayReason}");
        }
    }
}
