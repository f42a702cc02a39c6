using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FslTorch;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// <c>sizes</c>: the live size sweep. TinyGpt proxy runs of several widths (same data, tokens per step, budget and
/// a fixed WSD cooldown) are fitted jointly (<see cref="SizeLawFitter"/>); the largest width, left out of the fit,
/// is predicted and then trained with a small grid of cooldown fractions (branches of one constant run), so the
/// prediction of its curves and of its best decay start are checked against what it did. The prediction's band comes
/// from how far the size law missed the largest proxy when fitted without it (<see cref="SizeLawFitter.HoldOutLargest"/>),
/// the joint fit's parameter band beside it. Results: sizes.md and
/// sizes.json in the output folder; finished runs are reused.
/// </summary>
public static class SizesCommand
{
    private const double BandQuantile = 0.1;

    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder of the runs and results.", DefaultValueFactory = _ => "runs/sizes" };
        var widths = new Option<int[]>("--widths") { Description = "Model widths, the last one the held-out target (4 layers, 4 heads each).", DefaultValueFactory = _ => [32, 48, 64, 96, 128], AllowMultipleArgumentsPerToken = true };
        var steps = new Option<long>("--steps") { Description = "Budget N of every run.", DefaultValueFactory = _ => 1000 };
        var fraction = new Option<double>("--proxy-cooldown") { Description = "The proxies' WSD cooldown fraction.", DefaultValueFactory = _ => 0.2 };
        var grid = new Option<double[]>("--grid") { Description = "Cooldown fractions run at the target width.", DefaultValueFactory = _ => [0.1, 0.2, 0.4], AllowMultipleArgumentsPerToken = true };
        var seed = new Option<long>("--seed") { Description = "Seed of every run.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "CPU threads of each run.", DefaultValueFactory = _ => 2 };
        var data = new Option<string?>("--data") { Description = "Training text (TinyGpt's default corpus when absent)." };
        var command = new Command("sizes", "Live size sweep: fit proxy widths jointly, predict the held-out largest width and its best cooldown, then check against its real runs.")
            { output, widths, steps, fraction, grid, seed, threads, data };
        command.SetAction(parse =>
        {
            var widthList = parse.GetValue(widths)!;
            long total = parse.GetValue(steps);
            var fractions = parse.GetValue(grid)!;
            double proxyFraction = parse.GetValue(fraction);
            if (widthList.Length < 4 || widthList.Distinct().Count() != widthList.Length || widthList.Any(w => w < 8 || w % 4 != 0))
                return Fail("--widths: give at least 4 distinct widths, each a multiple of 4 and >= 8 (3 proxies and the target).");
            if (total < 100) return Fail("--steps must be at least 100.");
            if (fractions.Length < 2 || fractions.Any(f => !(f > 0 && f < 0.95))) return Fail("--grid: give at least 2 cooldown fractions in (0, 0.95).");
            if (!(proxyFraction > 0 && proxyFraction < 0.95)) return Fail("--proxy-cooldown must lie in (0, 0.95).");

            string folder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(folder);
            var runs = new TrainingRuns(folder, Console.Out);
            var clock = Stopwatch.StartNew();
            string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
            List<string> Common(int width) => RunArguments.Of("small", total, parse.GetValue(seed), parse.GetValue(threads), parse.GetValue(data),
                "--width", width.ToString(CultureInfo.InvariantCulture));

            // ---- the proxies, then the target: a constant run with branch points and its cooldown branches -----------
            var proxies = widthList[..^1].Select(w => (Width: w, Name: $"w{w}-wsd{F(proxyFraction)}")).ToList();
            var proxySummaries = proxies.Select(p => runs.Run(p.Name, [.. Common(p.Width), "--schedule", $"wsd:{F(proxyFraction)}"])).ToList();
            int target = widthList[^1];
            var branchPoints = fractions.Select(f => WsdSchedule.DecayStartForFraction(total, f)).ToList();
            string constant = $"w{target}-constant";
            var constantSummary = runs.Run(constant, [.. Common(target), "--schedule", "constant", "--no-probes",
                "--checkpoint-at", .. branchPoints.Select(b => b.ToString(CultureInfo.InvariantCulture))]);
            var targetRuns = fractions.Select((f, j) => (Fraction: f, Name: $"w{target}-wsd{F(f)}", Summary: runs.Run($"w{target}-wsd{F(f)}",
                ["--branch-from", runs.Folder(constant), "--branch-step", branchPoints[j].ToString(CultureInfo.InvariantCulture), "--schedule", $"wsd:{F(f)}"]))).ToList();

            // ---- the fit: every proxy's points after the first fifth of its run (a byte-level run's early plateau and drop) --
            ObservedCurve Curve(string name)
            {
                var settings = RunFolder.ReadConfig(runs.Folder(name));
                long from = Math.Max(RunSchedule.WarmupSteps(settings), settings.Steps / 5);
                return ObservedCurve.FromCsv(Path.Combine(runs.Folder(name), "losses.csv"), name).Where(s => s >= from);
            }
            var sized = proxies.Select((p, i) => new SizedCurve(Curve(p.Name), proxySummaries[i].Parameters)).ToList();
            double targetSize = constantSummary.Parameters;
            var fit = SizeLawFitter.Fit(LossCurveLaws.Default, sized);
            if (!fit.Succeeded) return Fail($"the size-law fit failed: {fit.Message}");
            var atTarget = fit.ForSize(targetSize);
            var largestAlone = fit.FitsAlone[^1];
            // How far the size law extrapolated on these proxies (the largest held out, predicted from the others): the
            // target's band, in place of the parameter band (one-sided and heavy-tailed on these runs).
            var holdout = SizeLawFitter.HoldOutLargest(LossCurveLaws.Default, sized);

            // ---- predicted against real, per cooldown fraction -------------------------------------------------------------
            var rows = targetRuns.Select(r =>
            {
                var observed = ObservedCurve.FromCsv(Path.Combine(runs.Folder(r.Name), "losses.csv"), r.Name);
                var rates = observed.Schedule.LearningRates.ToArray();
                int last = rates.Length - 1;
                // The run's own final loss: the mean of its last 10 logged training losses (per-batch noise averaged).
                double real = observed.Losses.TakeLast(10).Average();
                var parameterBand = atTarget.PredictWithBand(rates, [last], draws: 64, quantile: BandQuantile);
                var band = holdout?.Band(parameterBand, targetSize, fit.Sizes[^1]) ?? parameterBand;
                var (predicted, lower, upper) = (band.Loss[0], band.Lower[0], band.Upper[0]);
                double alone = Safe(() => largestAlone.Predict(rates, [last], fast: true)[0]);
                // The whole curve: PredE over 20-step means of the logged losses after the first fifth.
                var bins = Bins(observed, from: total / 5, width: 20);
                var curve = atTarget.Predict(rates, bins.Select(b => b.Step).ToArray(), fast: true);
                double predE = bins.Select((b, i) => Math.Abs(b.Loss - curve[i]) / b.Loss).Average();
                return new SizeRow(r.Fraction, real, r.Summary.FinalEvalLoss, predicted, lower, upper, alone, predE)
                    { ParameterLower = parameterBand.Lower[0], ParameterUpper = parameterBand.Upper[0] };
            }).ToList();
            var bestReal = rows.MinBy(r => r.Real)!;
            var bestPredicted = rows.MinBy(r => r.Predicted)!;

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"# Live size sweep: TinyGpt widths {string.Join(", ", widthList)} ({total} steps each)");
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Proxies (fitted): {string.Join(", ", proxies.Select((p, i) => $"width {p.Width} ({proxySummaries[i].Parameters:N0} parameters)"))}, each with a {F(proxyFraction)} cooldown. Target (held out): width {target}, {targetSize:N0} parameters ({targetSize / proxySummaries[0].Parameters:F1}× the smallest proxy).");
            report.AppendLine();
            var named = fit.NamedParameters;
            report.AppendLine(CultureInfo.InvariantCulture, $"Fit ({fit.Law.Name}, {fit.WallTime.TotalSeconds:F1} s): L0(N) = {named["E"]:F4} + {named["B"]:F4}·(N/{fit.ReferenceSize:N0})^(−{named["b"]:F3}); amplitude exponent a = {named["a"]:F3}; at the target L0 = {atTarget.NamedParameters["L0"]:F4}.");
            report.AppendLine();
            report.AppendLine(holdout == null
                ? "Held-out check: none (it needs four proxy sizes and a fit without the largest); the band is the parameter band alone."
                : string.Create(CultureInfo.InvariantCulture,
                    $"Held-out check: fitted without the largest proxy ({holdout.HeldOutSize:N0} parameters), the size law predicted its final loss with an error of {holdout.FinalError:+0.0000;-0.0000;+0.0000}, and erred by {holdout.TailError:F4} on average over its last fifth (PredE {holdout.PredE:F4}); the larger of the two, grown with the distance in log size, {holdout.ErrorAt(targetSize, fit.Sizes[^1]):F4} at the target gives its band."));
            report.AppendLine();
            report.AppendLine("| cooldown | real final (training, mean of last 10) | real final eval | predicted [10%, 90%] | error | band holds | parameter band alone (holds) | largest proxy alone | PredE (whole curve) |");
            report.AppendLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var r in rows)
            {
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"| {F(r.Fraction)} | {r.Real:F4} | {r.RealEval:F4} | {r.Predicted:F4} [{r.Lower:F4}, {r.Upper:F4}] | {r.Predicted - r.Real:+0.0000;-0.0000;+0.0000} | {(r.Lower <= r.Real && r.Real <= r.Upper ? "yes" : "no")} | [{r.ParameterLower:F4}, {r.ParameterUpper:F4}] ({(r.ParameterLower <= r.Real && r.Real <= r.ParameterUpper ? "yes" : "no")}) | {r.LargestAlone:F4} | {r.PredE:F4} |");
            }
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"Best cooldown of the grid: predicted {F(bestPredicted.Fraction)}, real {F(bestReal.Fraction)} (regret of the predicted choice {bestPredicted.Real - bestReal.Real:F4} nats). Targets: final loss within 0.03 nats: {(rows.All(r => Math.Abs(r.Predicted - r.Real) <= 0.03) ? "met" : "missed")}; 80% band holds it: {rows.Count(r => r.Lower <= r.Real && r.Real <= r.Upper)} of {rows.Count}.");
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Wall time of this command: {clock.Elapsed.TotalMinutes:F1} min.");
            File.WriteAllText(Path.Combine(folder, "sizes.md"), report.ToString());
            AtomicFile.WriteAllText(Path.Combine(folder, "sizes.json"), JsonSerializer.Serialize(new
            {
                widths = widthList,
                steps = total,
                sizes = sized.Select(s => s.ModelSize).Append(targetSize).ToArray(),
                fit = named,
                target_l0 = atTarget.NamedParameters["L0"],
                holdout = holdout == null ? null : new { held_out_size = holdout.HeldOutSize, largest_fitted = holdout.LargestFitted, final_error = holdout.FinalError, tail_error = holdout.TailError, pred_e = holdout.PredE, error_at_target = holdout.ErrorAt(targetSize, fit.Sizes[^1]) },
                rows,
                predicted_best = bestPredicted.Fraction,
                real_best = bestReal.Fraction,
                regret = bestPredicted.Real - bestReal.Real,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Console.Write(report);
            return 0;
        });
        return command;
    }

    /// <summary>One cooldown fraction at the target width: what it did and what the proxies predicted.</summary>
    /// <remarks>The band (<see cref="Lower"/>, <see cref="Upper"/>) is the held-out check's (the parameter band when there is none); the parameter band beside it.</remarks>
    public sealed record SizeRow(double Fraction, double Real, double RealEval, double Predicted, double Lower, double Upper, double LargestAlone, double PredE)
    {
        /// <summary>The joint fit's parameter band's lower edge.</summary>
        public double ParameterLower { get; init; }
        /// <summary>The parameter band's upper edge.</summary>
        public double ParameterUpper { get; init; }
    }

    private static double Safe(Func<double> value)
    {
        try
        {
            return value();
        }
        catch (ArgumentException)
        {
            return double.NaN;
        }
    }

    private static List<(int Step, double Loss)> Bins(ObservedCurve curve, long from, int width)
    {
        var bins = new List<(int, double)>();
        var points = curve.Steps.Select((step, i) => (Step: step, Loss: curve.Losses[i])).Where(p => p.Step >= from).ToList();
        for (int start = 0; start + width <= points.Count; start += width)
        {
            var chunk = points.GetRange(start, width);
            bins.Add((chunk[width / 2].Step, chunk.Average(p => p.Loss)));
        }
        return bins;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tinygpt-evidence sizes: {message}");
        return 2;
    }
}
