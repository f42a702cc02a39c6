using FslTorch;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli.Commands;

/// <summary><c>fsl decay</c>: the predicted-optimal WSD decay start for a budget, from a parameter file.</summary>
internal static class DecayCommand
{
    public static Command Create()
    {
        var parameters = new Option<string>("--params") { Description = "A parameter file written by fsl fit.", Required = true };
        var totalSteps = new Option<long>("--total-steps") { Description = "The budget N.", Required = true };
        var peak = new Option<double>("--peak-lr") { Description = "The peak LR.", Required = true };
        var warmup = new Option<long>("--warmup") { Description = "Warmup steps (linear from 0).", DefaultValueFactory = _ => 0 };
        var shape = new Option<string>("--shape") { Description = "The decay shape: linear, cosine, 1-sqrt, geometric or power(q).", DefaultValueFactory = _ => "linear" };
        var final = new Option<double>("--final") { Description = "The decay's final LR as a fraction of the peak.", DefaultValueFactory = _ => 0 };
        var minStable = new Option<double?>("--min-stable") { Description = "The shortest stable phase, as a fraction of N (the controller's default otherwise)." };
        var json = new Option<string?>("--json") { Description = "Also write the candidates as JSON." };
        var command = new Command("decay", "The predicted-optimal decay start of a WSD run for a budget, each candidate's final loss with its band, and the gain over a fixed 20% cooldown.")
            { parameters, totalSteps, peak, warmup, shape, final, minStable, json };
        command.SetAction(parse => CommandSupport.Run(() =>
        {
            CurveFiles.CheckWritable(parse.GetValue(json), "--json");
            long n = parse.GetValue(totalSteps);
            if (n < 20 || n > ObservedCurve.MaxSteps) throw new ArgumentException($"--total-steps must lie in [20, {ObservedCurve.MaxSteps:N0}]; got {n}.");
            double fraction = parse.GetValue(final);
            var plan = new WsdSchedule(parse.GetValue(peak), parse.GetValue(warmup), WsdSchedule.DecayStartForFraction(n, 0.2), n,
                DecayShape.Parse(parse.GetValue(shape)!), fraction == 0 ? DecayTarget.Zero : DecayTarget.FractionOfPeak(fraction));
            var options = parse.GetValue(minStable) is double stable ? new DecayControllerOptions { MinStableFraction = stable } : new DecayControllerOptions();
            var fit = FitResult.LoadParameters(parse.GetValue(parameters)!);
            var candidates = Candidates(fit, plan, options);
            var (best, gain) = Print(fit, plan, candidates, Console.Out);
            if (parse.GetValue(json) is string path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new
                {
                    law = fit.Law.Name,
                    total_steps = n,
                    best_decay_start = best.Start,
                    gain_over_fixed_20 = gain,
                    candidates = candidates.Select(c => new { decay_start = c.Start, cooldown = (double)(n - c.Start) / n, final_loss = c.Loss, lower = c.Lower, upper = c.Upper }),
                }, new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>One decay start and the final loss the fit predicts for it, with its 10–90% parameter band.</summary>
    internal sealed record Candidate(long Start, double Loss, double Lower, double Upper);

    /// <summary>
    /// The final loss <paramref name="fit"/> predicts for each of the controller's candidate decay starts of
    /// <paramref name="plan"/> (evenly spaced from its earliest to its latest start) and for the plan's own (a fixed 20% cooldown), ascending.
    /// </summary>
    internal static IReadOnlyList<Candidate> Candidates(FitResult fit, WsdSchedule plan, DecayControllerOptions options)
    {
        long n = plan.TotalSteps;
        var controller = new WsdDecayController(plan, options);
        int count = options.Candidates;
        return Enumerable.Range(0, count)
            .Select(i => controller.EarliestStart + (long)Math.Round((double)(controller.LatestStart - controller.EarliestStart) * i / (count - 1)))
            .Append(plan.DecayStartStep).Distinct().Order()
            .Select(start =>
            {
                var band = fit.PredictWithBand(plan.WithDecayStart(start).Sample(n), [(int)n - 1], draws: 32);
                return new Candidate(start, band.Loss[0], band.Lower[0], band.Upper[0]);
            }).ToList();
    }

    /// <summary>Prints the candidates' table and the best start; returns it and its gain over the plan's fixed 20% cooldown.</summary>
    internal static (Candidate Best, double Gain) Print(FitResult fit, WsdSchedule plan, IReadOnlyList<Candidate> candidates, TextWriter output)
    {
        long n = plan.TotalSteps;
        var best = candidates.MinBy(c => c.Loss)!;
        var fixed20 = candidates.Single(c => c.Start == plan.DecayStartStep);
        double final = plan.FinalLearningRate / plan.PeakLearningRate;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{fit.Law.Name}, N = {n}, peak {plan.PeakLearningRate:0.###e+0}, {plan.DecayShape.Name} decay to {final:0.###} of the peak"));
        output.WriteLine("decay start  cooldown  final loss  [10%, 90%]");
        foreach (var c in candidates)
        {
            string mark = c.Start == best.Start ? "  <- best" : c.Start == plan.DecayStartStep ? "  (fixed 20%)" : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Start,11}  {(double)(n - c.Start) / n,8:0.000}  {c.Loss,10:F4}  [{c.Lower:F4}, {c.Upper:F4}]{mark}"));
        }
        double gain = fixed20.Loss - best.Loss;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"best: decay from step {best.Start} ({(double)(n - best.Start) / n:0.000} cooldown), final loss {best.Loss:F4}; {gain:F4} nats below a fixed 20% cooldown"));
        return (best, gain);
    }
}
