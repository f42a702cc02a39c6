using FslTorch;
using System.CommandLine;
using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli.Commands;

/// <summary><c>fsl proxy fit</c>: small proxy runs of several model sizes fitted jointly, and a larger size predicted.</summary>
internal static class ProxyCommand
{
    public static Command Create()
    {
        var logs = new Argument<string[]>("logs") { Description = "The proxy runs' logged curves (see --format), one file per run (or --manifest).", Arity = ArgumentArity.ZeroOrMore };
        var sizes = new Option<double[]>("--sizes") { Description = "Each run's model size (e.g. its parameter count), in the order of the logs; at least 3 distinct sizes.", AllowMultipleArgumentsPerToken = true };
        var manifest = new Option<string?>("--manifest") { Description = "Instead of the logs, --sizes and --schedules: a CSV with a row per run, its columns file and size (and schedule, optional: a step,lr CSV); files relative to the manifest's folder." };
        var peakLr = new Option<double?>("--peak-lr") { Description = "With --predict-size and --total-steps, instead of --schedule: the predicted size's best decay start for a linear WSD cooldown to 0 at this peak, and its final loss." };
        var warmup = new Option<long>("--warmup") { Description = "With --peak-lr: the predicted run's warmup steps (linear from 0).", DefaultValueFactory = _ => 0 };
        var schedules = new Option<string[]>("--schedules") { Description = "One per log, as in fsl fit: a spec (with total=) or step,lr CSV giving the LR of every step.", AllowMultipleArgumentsPerToken = true };
        var law = new Option<string>("--law") { Description = $"The law ({FslTorch.Surrogates.LossCurveLaws.Default.Name} by default).", DefaultValueFactory = _ => FslTorch.Surrogates.LossCurveLaws.Default.Name };
        var fromStep = new Option<int>("--from-step") { Description = "Drop points before this step (e.g. the warmup).", DefaultValueFactory = _ => 0 };
        var predictSize = new Option<double?>("--predict-size") { Description = "The size to predict (e.g. the big run's parameter count)." };
        var schedule = new Option<string?>("--schedule") { Description = "The predicted run's schedule: a spec (e.g. wsd:peak=3e-4,warmup=2000,total=24000,decay=0.2) or a step,lr CSV." };
        var totalSteps = new Option<long?>("--total-steps") { Description = "The predicted run's length (default: the spec's total=, or the CSV's last step + 1)." };
        var output = new Option<string?>("--out") { Description = "Write the predicted size's parameters (a parameter file for fsl predict, fsl decay, fsl plot or a run's --prior)." };
        var logFormats = new LogFormats.Options();
        var fit = new Command("fit", "Fits a law to proxy runs of several model sizes at once (shared time exponents and decay response, L0 and the amplitude as power laws in the size) and predicts another size.")
            { logs, sizes, schedules, manifest, law, fromStep, predictSize, schedule, totalSteps, peakLr, warmup, output };
        foreach (var option in logFormats.All) fit.Options.Add(option);
        fit.SetAction(parse => CommandSupport.Run(() =>
        {
            CurveFiles.CheckWritable(parse.GetValue(output), "--out");
            var (files, sizeList, given) = Runs(parse.GetValue(logs) ?? [], parse.GetValue(sizes), parse.GetValue(schedules), parse.GetValue(manifest));
            string? target = parse.GetValue(schedule);
            double? size = parse.GetValue(predictSize);
            double? peak = parse.GetValue(peakLr);
            if (target != null && size == null) throw new ArgumentException("--schedule needs --predict-size (the size whose run it is).");
            if (parse.GetValue(output) != null && size == null) throw new ArgumentException("--out needs --predict-size (the size whose parameters it writes).");
            if (peak != null && target != null) throw new ArgumentException("Give --schedule (the run to predict) or --peak-lr (its best decay start is looked for), not both.");
            if (peak != null && (size == null || parse.GetValue(totalSteps) == null)) throw new ArgumentException("--peak-lr needs --predict-size and --total-steps (the run whose decay start it looks for).");
            if (peak is double q && !(q > 0 && double.IsFinite(q))) throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--peak-lr must be a positive number; got {q}."));
            (double[] Rates, int Total)? targetSchedule = target == null ? null : CurveFiles.ReadSchedule(target, parse.GetValue(totalSteps)); // refused before any fit
            WsdSchedule? plan = null;
            if (peak is double p)
            {
                long budget = parse.GetValue(totalSteps)!.Value;
                if (budget < 20 || budget > ObservedCurve.MaxSteps) throw new ArgumentException($"--total-steps must lie in [20, {ObservedCurve.MaxSteps:N0}]; got {budget}.");
                long warm = parse.GetValue(warmup), decayStart = WsdSchedule.DecayStartForFraction(budget, 0.2);
                if (warm < 0 || warm >= decayStart) throw new ArgumentException($"--warmup must lie in [0, {decayStart}) (the 20% cooldown's start); got {warm}.");
                plan = new WsdSchedule(p, warm, decayStart, budget);
            }
            var formats = logFormats.Read(parse);
            var curves = files.Select((f, i) => new SizedCurve(CurveFiles.Load(f, parse.GetValue(fromStep), 1, formats, given?[i]), sizeList[i])).ToList();

            var result = SizeLawFitter.Fit(Protocol.Law(parse.GetValue(law)!), curves);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Law.Name}, {curves.Count} runs of {result.Sizes.Count} sizes ({string.Join(", ", result.Sizes.Select(s => s.ToString("g4", CultureInfo.InvariantCulture)))}): {result.ExitReason} ({result.Message}) in {result.WallTime.TotalSeconds:F1} s"));
            if (!result.Succeeded) return 1;
            var named = result.NamedParameters;
            string amplitude = named.Keys.Single(k => k.EndsWith("_ref", StringComparison.Ordinal));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  L0(N) = {named["E"]:g4} + {named["B"]:g4}·(N/{result.ReferenceSize:g4})^{-named["b"]:+0.###;-0.###};  {amplitude[..^4]}(N) = {named[amplitude]:g4}·(N/{result.ReferenceSize:g4})^{-named["a"]:+0.###;-0.###}"));
            Console.WriteLine("  shared: " + string.Join(", ", named.Where(p => p.Key is not ("E" or "B" or "b" or "a") && p.Key != amplitude)
                .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:g4}"))));
            Console.WriteLine("  size        L0 (size law)  L0 (this size alone)");
            for (int i = 0; i < result.Sizes.Count; i++)
            {
                var alone = result.FitsAlone[i];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {result.Sizes[i],-10:g4}  {result.ForSize(result.Sizes[i]).NamedParameters["L0"],13:F4}  {(alone.Succeeded ? alone.NamedParameters["L0"].ToString("F4", CultureInfo.InvariantCulture) : "failed")}"));
            }
            if (size is not double n) return 0;
            var predicted = result.ForSize(n);
            if (plan != null)
            {
                // The predicted size's best decay start for the budget, as fsl decay finds it; then that run as the one predicted.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"size {n:g4}: decay starts for a budget of {plan.TotalSteps} steps"));
                var (best, _) = DecayCommand.Print(predicted, plan, DecayCommand.Candidates(predicted, plan, new FslTorch.Control.DecayControllerOptions()), Console.Out);
                targetSchedule = (plan.WithDecayStart(best.Start).Sample(plan.TotalSteps), (int)plan.TotalSteps);
            }
            if (targetSchedule is { } known)
            {
                var (rates, total) = known;
                var curve = PredictedCurve.Of(predicted, rates, [total - 1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"size {n:g4}: final loss at step {total - 1} {curve.Loss[0]:F4} [{curve.Lower[0]:F4}, {curve.Upper[0]:F4}] (10–90% over the joint fit's parameter uncertainty){(curve.HasBand ? "" : "; no band: the joint fit has no usable covariance")}"));
                // The same extrapolation one size earlier: the largest proxy predicted from the others.
                if (SizeLawFitter.HoldOutLargest(result.Law, curves) is { } holdout)
                {
                    var band = holdout.Band(curve, n, result.Sizes[^1]);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  held out, the largest proxy ({holdout.HeldOutSize:g4}) was predicted from the others with a final-loss error of {holdout.FinalError:+0.0000;-0.0000;+0.0000}, {holdout.TailError:F4} over its last fifth (PredE {holdout.PredE:F4}); the larger grown to {holdout.ErrorAt(n, result.Sizes[^1]):F4} at size {n:g4}, the band from it is [{band.Lower[0]:F4}, {band.Upper[0]:F4}] (10–90%)"));
                }
                else
                {
                    Console.WriteLine("  no held-out check (it needs 4 sizes and a fit without the largest): the band above is the parameter uncertainty alone, which does not cover a bias of the law itself");
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"size {n:g4}: L0 {predicted.NamedParameters["L0"]:F4}"));
            if (parse.GetValue(output) is string path)
            {
                predicted.SaveParameters(path);
                Console.WriteLine($"  parameters of size {n.ToString("g4", CultureInfo.InvariantCulture)} in {path} (fsl predict / fsl decay --params {path})");
            }
            return 0;
        }));
        return new Command("proxy", "Proxy runs of several model sizes: fit them jointly and predict a larger run.") { fit };
    }

    // The runs to fit: the logs with --sizes (and --schedules), or the rows of a manifest (file, size, schedule).
    private static (string[] Files, double[] Sizes, string?[]? Schedules) Runs(string[] logs, double[]? sizes, string[]? schedules, string? manifest)
    {
        if (manifest == null)
        {
            if (logs.Length == 0) throw new ArgumentException("Give the proxy runs' logs (with --sizes), or --manifest.");
            if (sizes is not { Length: > 0 }) throw new ArgumentException("--sizes: give each log's model size, in the order of the logs (or use --manifest).");
            if (sizes.Length != logs.Length) throw new ArgumentException($"--sizes: give one per log ({logs.Length}); got {sizes.Length}.");
            var given = schedules ?? [];
            if (given.Length != 0 && given.Length != logs.Length) throw new ArgumentException($"--schedules: give one per log ({logs.Length}); got {given.Length}.");
            return (logs, sizes, given.Length == 0 ? null : given);
        }
        if (logs.Length > 0 || sizes is { Length: > 0 } || schedules is { Length: > 0 })
        {
            throw new ArgumentException("--manifest lists the runs, their sizes and schedules: give it instead of the logs, --sizes and --schedules.");
        }
        if (!File.Exists(manifest)) throw new ArgumentException($"--manifest {manifest}: no such file.");
        var lines = File.ReadAllLines(manifest).Where(l => l.Trim().Length > 0).ToArray();
        var header = lines.FirstOrDefault()?.Split(',').Select(c => c.Trim()).ToList() ?? [];
        int file = header.IndexOf("file"), size = header.IndexOf("size"), schedule = header.IndexOf("schedule");
        if (file < 0 || size < 0) throw new ArgumentException($"--manifest {manifest}: its header needs the columns file and size (and may have schedule); it has {string.Join(", ", header)}.");
        if (lines.Length < 2) throw new ArgumentException($"--manifest {manifest}: no runs listed.");
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
        var rows = lines.Skip(1).Select((l, i) => (Cells: l.Split(',').Select(c => c.Trim()).ToArray(), Line: i + 2)).ToList();
        var files = new string[rows.Count];
        var sizeList = new double[rows.Count];
        var scheduleList = new string?[rows.Count];
        foreach (var (cells, line, i) in rows.Select((r, i) => (r.Cells, r.Line, i)))
        {
            if (cells.Length <= Math.Max(file, size)) throw new ArgumentException($"--manifest {manifest}, line {line}: it has {cells.Length} cells, the header {header.Count}.");
            files[i] = Path.Combine(folder, cells[file]);
            if (!double.TryParse(cells[size], NumberStyles.Float, CultureInfo.InvariantCulture, out sizeList[i]) || !(sizeList[i] > 0) || !double.IsFinite(sizeList[i]))
            {
                throw new ArgumentException($"--manifest {manifest}, line {line}: the size '{cells[size]}' is not a positive number (a parameter count, e.g. 1.2e8).");
            }
            if (schedule >= 0 && schedule < cells.Length && cells[schedule].Length > 0)
            {
                // A spec has commas of its own, so a manifest's schedule is a step,lr CSV.
                scheduleList[i] = Path.Combine(folder, cells[schedule]);
                if (!File.Exists(scheduleList[i])) throw new ArgumentException($"--manifest {manifest}, line {line}: the schedule file {cells[schedule]} does not exist (a step,lr CSV, relative to the manifest's folder).");
            }
        }
        return (files, sizeList, scheduleList.Any(s => s != null) ? scheduleList : null);
    }
}
