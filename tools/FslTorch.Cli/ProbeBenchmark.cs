using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Cli.Commands;
using MathNet.Numerics.Statistics;

namespace FslTorch.Cli;

/// <summary>
/// Forecasts from a cooldown probe on real runs (<c>fsl bench probe</c>): what TinyGpt does live, replayed on the 124M grid
/// of Schaipp et al. without a prior measured on other runs. The grid's WSD runs branch from the constant run, so its
/// shortest 10% cooldown (the last 1500 steps of the 15k-step run; 2500 of the 25k-step one at peak 1e-4) is a probe forked
/// from the constant run: at 27–45% of a longer budget, 3–5% of it long. A <see cref="TrainingMonitor"/> set up as
/// <c>fsl watch</c> sets it up (the law's built-in prior, which is not measured) follows the constant run's logged losses
/// with that probe, and forecasts a longer run's 20% and 40% cooldowns at the probe's end and just before the cooldown
/// begins; each forecast is scored against the real run's last regular loss (200 steps before its end). Besides the error and whether
/// the 80% band held it, each row gives the share of the unseen gain (<see cref="Forecast.UnseenCooldownGain"/>, the law's
/// extrapolation from the probe to the whole cooldown) that the real run realised (<see cref="Row.RealisedShare"/>).
/// </summary>
internal static class ProbeBenchmark
{
    private static readonly double[] Cooldowns = [0.2, 0.4];

    // How far a branch's logged loss may lie from the constant run's before the fork (evaluation noise).
    private const double BranchTolerance = 0.005;

    internal sealed record Row(double PeakLearningRate, int TotalSteps, double Cooldown, long Step, long ProbeFork, int ProbeSteps,
        double Forecast, double Lower, double Upper, double Fitted, double Unseen, double HorizonError, double Observed)
    {
        public double Error => Forecast - Observed;

        public bool BandHolds => Observed >= Lower && Observed <= Upper;

        /// <summary>
        /// The share of the unseen gain that the real run realised beyond the probe-shaped cooldown's (the forecast takes
        /// 1 − <see cref="Forecast.UnseenGainShare"/> of it), net of the forecast's error where the decay begins; NaN when
        /// the forecast had almost none (below 1e-4).
        /// </summary>
        public double RealisedShare => Unseen > 1e-4 ? 1 - (Observed - Fitted - HorizonError) / Unseen : double.NaN;
    }

    public static int Run(string folder, string? json, TextWriter output, LossCurveLaw? law = null, IReadOnlyList<double>? peaks = null)
    {
        law ??= LossCurveLaws.Default;
        var clock = Stopwatch.StartNew();
        var runs = SchaippDataset.Load(folder, output);
        var rows = new List<Row>();
        foreach (double peak in peaks ?? SchaippDataset.Peaks(runs))
        {
            var probeRun = runs.Where(r => r.Schedule == "wsd-linear-cd0.1" && SchaippDataset.SamePeak(r, peak)).MinBy(r => r.TotalSteps);
            var constant = SchaippDataset.FindConstant(runs, peak);
            if (probeRun == null || constant == null)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"skipped: peak {peak}: no {(constant == null ? "constant" : "wsd-linear-cd0.1")} run"));
                continue;
            }
            var probe = Probe(probeRun, constant);
            foreach (var target in runs.Where(r => SchaippDataset.SamePeak(r, peak) && r.TotalSteps > probeRun.TotalSteps
                && Cooldowns.Any(f => r.Schedule == $"wsd-linear-cd{f.ToString(CultureInfo.InvariantCulture)}")).OrderBy(r => r.TotalSteps).ThenBy(r => r.CooldownFraction))
            {
                var made = Replay(constant, probe, target, law).ToList();
                rows.AddRange(made);
                foreach (var row in made)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"peak {peak,-7} T {row.TotalSteps,6} cooldown {row.Cooldown:F1} at {row.Step,6}: forecast {row.Forecast:F4} [{row.Lower:F4}, {row.Upper:F4}] observed {row.Observed:F4} error {row.Error:+0.0000;-0.0000;+0.0000} {(row.BandHolds ? "held" : "missed")}; unseen gain {row.Unseen:F4}, realised share {row.RealisedShare:F2}"));
                }
            }
        }
        if (rows.Count == 0) throw new ArgumentException($"{folder}: no peak with a 10% cooldown run shorter than a 20% or 40% one.");
        var shares = rows.Select(r => r.RealisedShare).Where(double.IsFinite).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{rows.Count} forecasts: mean error {rows.Average(r => r.Error):+0.0000;-0.0000}, mean |error| {rows.Average(r => Math.Abs(r.Error)):F4}, 80% bands held {rows.Count(r => r.BandHolds)} of {rows.Count}; realised share of the unseen gain: mean {shares.DefaultIfEmpty(double.NaN).Average():F2}, median {shares.Median():F2} ({shares.Count} forecasts; the forecast takes {1 - Forecast.UnseenGainShare:F2}); {clock.Elapsed.TotalSeconds:F0} s"));
        if (json != null)
        {
            Report.WriteJson(new JsonObject
            {
                ["rows"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["peak_lr"] = r.PeakLearningRate,
                    ["total_steps"] = r.TotalSteps,
                    ["cooldown"] = r.Cooldown,
                    ["step"] = r.Step,
                    ["probe_fork"] = r.ProbeFork,
                    ["probe_steps"] = r.ProbeSteps,
                    ["forecast"] = r.Forecast,
                    ["lower"] = r.Lower,
                    ["upper"] = r.Upper,
                    ["fitted"] = r.Fitted,
                    ["unseen_gain"] = r.Unseen,
                    ["horizon_error"] = r.HorizonError,
                    ["observed"] = r.Observed,
                    ["error"] = r.Error,
                    ["band_holds"] = r.BandHolds,
                    ["realised_share"] = double.IsFinite(r.RealisedShare) ? r.RealisedShare : null,
                }).ToArray()),
                ["mean_abs_error"] = rows.Average(r => Math.Abs(r.Error)),
                ["band_coverage"] = (double)rows.Count(r => r.BandHolds) / rows.Count,
                ["median_realised_share"] = shares.Count > 0 ? shares.Median() : null,
            }, json);
        }
        return 0;
    }

    // The 10% cooldown of a run branched from the constant one, as a probe forked from it: its LR at every step of the
    // cooldown, its logged validation losses (NaN between them). Its points before the fork must be the constant run's
    // within the evaluation's noise (the grid's branches differ from the constant run there by up to 0.003).
    internal static CooldownProbe Probe(SchaippRun cooldown, SchaippRun constant)
    {
        int fork = (int)WsdSchedule.DecayStartForFraction(cooldown.TotalSteps, cooldown.CooldownFraction);
        if (!FollowsUntil(cooldown, constant, fork))
        {
            throw new InvalidDataException($"{cooldown.File}: its losses before step {fork} are not the constant run's; it is not a branch of it.");
        }
        var losses = cooldown.StepLosses();
        var rates = Enumerable.Range(fork, cooldown.TotalSteps - fork).Select(k => cooldown.LearningRates.GetLearningRate(k)).ToArray();
        return new CooldownProbe(fork, rates, losses[fork..]);
    }

    /// <summary>
    /// Whether <paramref name="run"/>'s logged losses before <paramref name="step"/> are the constant run's within the
    /// evaluation's noise (the grid's branches differ from the constant run there by up to 0.003): a branch of it up to there.
    /// </summary>
    internal static bool FollowsUntil(SchaippRun run, SchaippRun constant, long step)
    {
        var constantLosses = constant.StepLosses();
        return run.Logged.Steps.Zip(run.Logged.Losses).Where(p => p.First < step)
            .All(p => Math.Abs(constantLosses[p.First] - p.Second) <= BranchTolerance);
    }

    // The forecasts of `target`'s final loss from the constant run with the probe: at the probe's last step and at the step
    // before the target's cooldown begins.
    internal static IEnumerable<Row> Replay(SchaippRun constant, CooldownProbe probe, SchaippRun target, LossCurveLaw law)
    {
        int total = target.TotalSteps;
        var schedule = (WsdSchedule)target.LearningRates;
        long probeEnd = probe.ForkStep + probe.LearningRates.Count - 1;
        if (schedule.DecayStartStep <= probeEnd) yield break; // a cooldown under way before the probe ended: nothing to forecast from it
        long[] at = [.. new[] { probeEnd, schedule.DecayStartStep - 1 }.Distinct()];
        var options = WatchCommand.MonitorOptions(law, schedule, total, WatchCommand.BuiltInPrior(law)) with { DecayControl = null };
        using var monitor = new TrainingMonitor(schedule, total, options);
        var losses = constant.StepLosses();
        // Scored at the target's last regular loss (200 steps before its end on the 124M grid).
        int scored = target.Curve.Steps[^1];
        double observed = target.Curve.Losses[^1];
        var sampled = schedule.Sample(total);
        for (long step = 0; step <= at.Max(); step++)
        {
            if (step == probe.ForkStep) monitor.AddProbe(probe);
            monitor.OnStepEnd(step, losses[step]);
            if (!at.Contains(step) || monitor.Forecaster.ForecastNow(step) is not { } forecast) continue;
            // The law at the scored step and where the decay begins (the constant run's last logged loss before it).
            long horizon = forecast.HorizonStep;
            int logged = constant.Logged.Steps.ToList().FindLastIndex(s => s <= horizon);
            var predicted = forecast.Fit.Predict(sampled, [(int)constant.Logged.Steps[logged], scored]); // ascending
            double fitted = predicted[1];
            yield return new Row(target.PeakLearningRate, total, target.CooldownFraction, step, probe.ForkStep, probe.LearningRates.Count,
                fitted + Forecast.UnseenGainShare * forecast.UnseenCooldownGain, forecast.Lower, forecast.Upper, fitted, forecast.UnseenCooldownGain,
                predicted[0] - constant.Logged.Losses[logged], observed);
        }
    }
}
