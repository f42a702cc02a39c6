using System.Globalization;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;

namespace TinyGpt;

/// <summary>
/// The LR schedules a run can use (<c>--schedule</c>). All share the warmup (from η/100 over the first
/// <see cref="Settings.WarmupSteps"/>, or <see cref="Settings.WarmupFraction"/> of the steps) and the peak, so a WSD run and the constant run of the
/// same seed take identical steps until the WSD's decay starts — which is what lets a WSD run branch from a
/// checkpoint of the constant run.
/// </summary>
public static class RunSchedule
{
    /// <summary>
    /// The planned cooldown of a controlled run: 20%, a common choice for WSD (Hägele et al., 2024, found 20%
    /// cooldowns to match or beat cosine). The monitor moves it, earlier or later, only on forecasts it trusts;
    /// on a run the law cannot forecast the decay starts here.
    /// </summary>
    public const double PlannedCooldown = 0.2;

    /// <summary>The cosine's floor, as a fraction of the peak.</summary>
    public const double CosineFloor = 0.1;

    /// <summary>The warmup length of a run.</summary>
    public static long WarmupSteps(Settings settings) => settings.WarmupSteps ?? (long)Math.Max(1, settings.WarmupFraction * settings.Steps);

    /// <summary>Whether the run's decay start is moved by the monitor (<c>--schedule controlled</c>).</summary>
    public static bool IsControlled(Settings settings) => settings.Schedule.Trim().Equals("controlled", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The monitor of a run: the default law refitted every <see cref="Settings.RefitEvery"/> steps (adaptive when
    /// unset) from the end of the warmup, with the prior of <c>--prior</c> (the law's built-in one otherwise), and
    /// the decay controller for controlled runs. The live-forecast replay (tools/TinyGptEvidence) builds the same.
    /// </summary>
    /// <param name="settings">The run's settings.</param>
    /// <param name="background">Refit off the training thread (<see cref="BackgroundRefits"/> says when the run does).</param>
    public static TrainingMonitorOptions MonitorOptions(Settings settings, bool background = false)
    {
        var law = LossCurveLaws.Default;
        return new TrainingMonitorOptions
        {
            Forecaster = new ForecasterOptions
            {
                Law = law,
                RefitInterval = settings.RefitEvery,
                Background = background,
                FromStep = WarmupSteps(settings),
                Prior = settings.Prior != null ? ParameterPrior.FromFile(settings.Prior, law, settings.PriorSpread, settings.PriorOn) : ParameterPrior.BuiltIn(law),
                // A run that may be aborted (a sweep's) forecasts as often as EarlyAbortSweep asks: each forecast can stop it.
                MaxForecastAge = settings.AbortAbove != null ? EarlyAbortSweep.MaxForecastAge : new ForecasterOptions().MaxForecastAge,
            },
            DecayControl = IsControlled(settings) ? new DecayControllerOptions() : null,
            EarlyStopping = settings.AbortAbove is double threshold
                ? new EarlyStoppingOptions
                {
                    Mode = EarlyStoppingMode.Abort,
                    Threshold = threshold,
                    ReferenceErrors = settings.AbortReference != null ? RunFolder.ForecastErrors(settings.AbortReference) : [],
                }
                : new(),
        };
    }

    /// <summary>Whether a run on <paramref name="device"/> refits in the background (<see cref="Settings.BackgroundRefits"/>).</summary>
    public static bool BackgroundRefits(Settings settings, TorchSharp.torch.Device device) => settings.BackgroundRefits switch
    {
        "on" => true,
        "off" => false,
        _ => device.type == TorchSharp.DeviceType.CUDA,
    };

    /// <summary>
    /// The schedule of a run (for <c>controlled</c>, the WSD as planned, whose decay start the monitor then moves).
    /// Throws an <see cref="ArgumentException"/> naming the flag for a schedule it does not know.
    /// </summary>
    public static LearningRateSchedule Build(Settings settings)
    {
        double peak = settings.PeakLearningRate, initial = peak / 100;
        long total = settings.Steps, warmup = WarmupSteps(settings);
        WsdSchedule Wsd(double cooldown) =>
            new(peak, warmup, WsdSchedule.DecayStartForFraction(total, cooldown), total, DecayShape.Linear, DecayTarget.Zero, initial);

        string name = settings.Schedule.Trim().ToLowerInvariant();
        switch (name)
        {
            case "controlled":
                return Wsd(PlannedCooldown);
            case "constant":
                return Schedule.WithWarmup(Schedule.Constant(peak), warmup, initial);
            case "cosine":
                return Schedule.WithWarmup(Schedule.Cosine(peak, CosineFloor * peak, total - warmup), warmup, initial);
        }
        if (name.StartsWith("wsd:", StringComparison.Ordinal)
            && double.TryParse(name.AsSpan(4), NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction))
        {
            double longest = (double)(total - warmup) / total;
            if (!(fraction > 0 && fraction <= longest))
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"--schedule {settings.Schedule}: the cooldown fraction must lie in (0, {longest:0.###}] (after the warmup)."));
            }
            return Wsd(fraction);
        }
        throw new ArgumentException($"--schedule {settings.Schedule}: expected controlled, wsd:F (e.g. wsd:0.2), cosine or constant.");
    }
}
