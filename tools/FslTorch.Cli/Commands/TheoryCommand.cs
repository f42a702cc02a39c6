using System.CommandLine;
using System.Globalization;
using System.Text;
using FslTorch.Theory;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace FslTorch.Cli.Commands;

/// <summary>
/// <c>fsl theory &lt;experiment&gt;</c>: the laws and schedules against SGD on power-law kernel regression, the setting
/// the FSL is derived for (<see cref="SgdSimulation"/>): <c>constant</c> (risk against intrinsic time at constant
/// LRs), <c>ranking</c> (final risk of each schedule over a grid of exponents), <c>fsl</c> (the direct FSL fitted to
/// one schedule predicts the others), <c>regret</c> (the decay controller on sampled runs against the exactly best
/// decay start), <c>optimal</c> (the FSL-optimal schedule family against a direct search over schedules). Each writes a CSV and an SVG into <c>--out</c> and prints its table.
/// </summary>
internal static class TheoryCommand
{
    private static readonly string[] Experiments = ["constant", "ranking", "fsl", "regret", "optimal"];

    public static Command Create()
    {
        var experiment = new Argument<string>("experiment") { Description = $"One of: {string.Join(", ", Experiments)}." };
        var output = new Option<string>("--out") { Description = "Folder for the CSV and SVG.", DefaultValueFactory = _ => "theory" };
        var steps = new Option<int[]>("--steps") { Description = "SGD steps N (regret: one or more budgets; the others take one).", DefaultValueFactory = _ => [4000], AllowMultipleArgumentsPerToken = true };
        var peak = new Option<double>("--peak-lr") { Description = "Peak learning rate (constant: the largest of three, each half the one before).", DefaultValueFactory = _ => 0.2 };
        var features = new Option<int>("--features") { Description = "M, features of the task.", DefaultValueFactory = _ => 5000 };
        var source = new Option<double[]>("--source") { Description = "s, the source exponent(s).", DefaultValueFactory = _ => [0.25, 0.5, 0.8], AllowMultipleArgumentsPerToken = true };
        var capacity = new Option<double[]>("--capacity") { Description = "β > 1, the capacity exponent(s).", DefaultValueFactory = _ => [2.0, 3.0], AllowMultipleArgumentsPerToken = true };
        var noise = new Option<double[]>("--noise") { Description = "σ², the label noise (one or more).", DefaultValueFactory = _ => [1.0], AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int>("--batch") { Description = "B, the batch size.", DefaultValueFactory = _ => 1 };
        var seeds = new Option<int>("--seeds") { Description = "regret: sampled runs per task and budget (seeds 1…K).", DefaultValueFactory = _ => 3 };
        var evidence = new Option<string>("--evidence")
        {
            Description = "regret: the controller's evidence of the decay response: probe (a cooldown probe at 40% of the budget, as TinyGpt's controlled runs) or prior (calibration runs of 30% of the budget, as fsl bench decay).",
            DefaultValueFactory = _ => "probe",
        };
        var probeAt = new Option<double[]>("--probe-at")
        {
            Description = "regret, probe evidence: where the cooldown probes fork, as fractions of the budget (one or more).",
            DefaultValueFactory = _ => [TheoryExperiments.DefaultProbeAt],
            AllowMultipleArgumentsPerToken = true,
        };
        var observe = new Option<string>("--observe")
        {
            Description = "regret: what the monitor sees of each step: batch (the training batch's loss, as a training loop logs it) or population (the iterate's population loss, as an evaluation on an unlimited held-out set).",
            DefaultValueFactory = _ => "batch",
        };
        var threads = new Option<int>("--threads") { Description = "regret: runs at once (the results do not depend on it).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var fitOn = new Option<string[]>("--fit-on")
        {
            Description = "fsl: the schedules whose runs the law is fitted to (constant, cosine, exponential, wsd-0.2, 8-1-1), or all; the table then gives the others' errors, or every schedule's in-sample error when all are fitted.",
            DefaultValueFactory = _ => [TheoryExperiments.DefaultFitSchedule],
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("theory", "The laws and schedules against exact SGD on power-law kernel regression (the FSL's own setting).")
            { experiment, output, steps, peak, features, source, capacity, noise, batch, seeds, evidence, probeAt, observe, threads, fitOn };
        command.SetAction(parse => CommandSupport.Run(() =>
        {
            string name = parse.GetValue(experiment)!.Trim().ToLowerInvariant();
            if (!Experiments.Contains(name)) throw new ArgumentException($"theory {name}: expected one of {string.Join(", ", Experiments)}.");
            var budgets = parse.GetValue(steps)!.Distinct().ToList();
            if (budgets.Count == 0) throw new ArgumentException("--steps needs a value.");
            foreach (int b in budgets)
                if (b < 10 || b > 10_000_000) throw new ArgumentException($"--steps must lie in [10, 10,000,000]; got {b}.");
            var noises = parse.GetValue(noise)!.Distinct().ToList();
            if (name != "regret" && (budgets.Count > 1 || noises.Count > 1))
                throw new ArgumentException($"theory {name} takes one --steps and one --noise; several are for regret.");
            int n = budgets[0];
            double eta = parse.GetValue(peak);
            var tasks = (from s in parse.GetValue(source)! from b in parse.GetValue(capacity)! from v in noises
                         select new KernelRegressionTask(parse.GetValue(features), b, s, v, parse.GetValue(batch))).ToList();
            if (tasks.Count == 0) throw new ArgumentException("--source, --capacity and --noise need at least one value each.");
            if (!Enum.TryParse<TheoryExperiments.RegretEvidence>(parse.GetValue(evidence), ignoreCase: true, out var regretEvidence) || !Enum.IsDefined(regretEvidence))
                throw new ArgumentException($"--evidence must be probe or prior; got {parse.GetValue(evidence)}.");
            var probeFractions = parse.GetValue(probeAt)!.Distinct().ToList();
            if (probeFractions.Count == 0 || probeFractions.Any(f => !(f > 0 && f < 1)))
                throw new ArgumentException($"--probe-at: every fraction must lie in (0, 1); got {string.Join(", ", probeFractions)}.");
            if (regretEvidence != TheoryExperiments.RegretEvidence.Probe && parse.GetResult(probeAt) is { Implicit: false })
                throw new ArgumentException("--probe-at goes with --evidence probe.");
            if (!Enum.TryParse<TheoryExperiments.RegretObservation>(parse.GetValue(observe), ignoreCase: true, out var observation) || !Enum.IsDefined(observation))
                throw new ArgumentException($"--observe must be batch or population; got {parse.GetValue(observe)}.");
            var scheduleNames = TheoryExperiments.Schedules(eta, n).Select(s => s.Name).ToList();
            var fitted = parse.GetValue(fitOn)!.SelectMany(f => f == "all" ? scheduleNames : [f]).Distinct().ToList();
            if (fitted.Count == 0) throw new ArgumentException("--fit-on needs a schedule.");
            foreach (string f in fitted)
                if (!scheduleNames.Contains(f)) throw new ArgumentException($"--fit-on: no schedule {f}; expected all or some of {string.Join(", ", scheduleNames)}.");
            if (name != "fsl" && parse.GetResult(fitOn) is { Implicit: false }) throw new ArgumentException("--fit-on goes with theory fsl.");
            int runsAtOnce = parse.GetValue(threads);
            if (runsAtOnce < 1) throw new ArgumentException($"--threads must be >= 1; got {runsAtOnce}.");
            string folder = parse.GetValue(output)!;
            Directory.CreateDirectory(folder);
            var csv = new StringBuilder();
            var plot = new PlotModel { Title = $"fsl theory {name}", Padding = new OxyThickness(8, 16, 8, 8), DefaultFont = "Arial",
                Legends = { new Legend { LegendPlacement = LegendPlacement.Outside, LegendPosition = LegendPosition.RightTop, LegendFontSize = 10 } } };
            switch (name)
            {
                case "constant": Constant(tasks, eta, n, csv, plot); break;
                case "ranking": Ranking(tasks, eta, n, csv, plot); break;
                case "regret": Regret(tasks, eta, budgets, parse.GetValue(seeds), regretEvidence, probeFractions, observation, runsAtOnce, csv, plot); break;
                case "optimal": Optimal(tasks, eta, n, csv, plot, folder); break;
                default: Fsl(tasks, eta, n, fitted, csv, plot); break;
            }
            AtomicFile.WriteAllText(Path.Combine(folder, $"{name}.csv"), csv.ToString());
            SvgPicture.Write(plot, Path.Combine(folder, $"{name}.svg"), 1000, 500);
            Console.WriteLine($"wrote {Path.Combine(folder, name)}.csv and .svg");
            return 0;
        }));
        return command;
    }

    private static string Label(KernelRegressionTask t) =>
        string.Create(CultureInfo.InvariantCulture, $"s={t.Source:G3} β={t.Capacity:G3} ({(t.IsEasy ? "easy" : "hard")})");

    private static void Line(StringBuilder csv, FormattableString text) => csv.AppendLine(text.ToString(CultureInfo.InvariantCulture));

    // Risk against intrinsic time, log-log, per task and LR; the slope over the signal-dominated range, and the
    // final risks' ratio between LRs (the noise floor is ∝ η).
    private static void Constant(IReadOnlyList<KernelRegressionTask> tasks, double eta, int n, StringBuilder csv, PlotModel plot)
    {
        plot.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "intrinsic time η·k" });
        plot.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Left, Title = "expected excess risk" });
        Line(csv, $"task,lr,step,intrinsic_time,risk");
        Console.WriteLine("| task | LR | slope vs −s (steps 10–N/10) | final risk | final risk / next LR's |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var task in tasks)
        {
            var curves = TheoryExperiments.Constant(task, eta, n);
            var slopes = curves.Slopes(10, n / 10);
            for (int i = 0; i < curves.LearningRates.Count; i++)
            {
                double lr = curves.LearningRates[i];
                var series = new LineSeries { Title = string.Create(CultureInfo.InvariantCulture, $"{Label(task)}, η={lr:G3}") };
                for (int j = 0; j < curves.Steps.Count; j++)
                {
                    int k = curves.Steps[j];
                    Line(csv, $"{Label(task)},{lr:R},{k},{lr * k:R},{curves.Risk[i][j]:R}");
                    if (k > 0 && curves.Risk[i][j] > 0) series.Points.Add(new DataPoint(lr * k, curves.Risk[i][j]));
                }
                plot.Series.Add(series);
                string ratio = i + 1 < curves.LearningRates.Count ? (curves.Risk[i][^1] / curves.Risk[i + 1][^1]).ToString("F2", CultureInfo.InvariantCulture) : "–";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {Label(task)} | {lr:G3} | {slopes[i]:F3} vs {-task.Source:F3} | {curves.Risk[i][^1]:G4} | {ratio} |"));
            }
        }
    }

    private static void Ranking(IReadOnlyList<KernelRegressionTask> tasks, double eta, int n, StringBuilder csv, PlotModel plot)
    {
        var names = TheoryExperiments.Schedules(eta, n).Select(s => s.Name).ToList();
        plot.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = tasks.Select(Label).ToList() });
        plot.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "final excess risk / constant LR's", Minimum = 0 });
        var bars = names.ToDictionary(s => s, s => new BarSeries { Title = s });
        Line(csv, $"task,schedule,final_risk,relative_to_constant");
        Console.WriteLine($"| task | {string.Join(" | ", names)} | best |");
        Console.WriteLine($"|---|{string.Concat(names.Select(_ => "---|"))}---|");
        foreach (var task in tasks)
        {
            var ranking = TheoryExperiments.Ranking(task, eta, n);
            double constant = ranking.Single(r => r.Schedule == "constant").FinalRisk;
            foreach (var r in ranking) Line(csv, $"{Label(task)},{r.Schedule},{r.FinalRisk:R},{r.FinalRisk / constant:R}");
            foreach (string s in names) bars[s].Items.Add(new BarItem(ranking.Single(r => r.Schedule == s).FinalRisk / constant));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Label(task)} | {string.Join(" | ", names.Select(s => ranking.Single(r => r.Schedule == s).FinalRisk.ToString("G4", CultureInfo.InvariantCulture)))} | {ranking[0].Schedule} |"));
        }
        foreach (var series in bars.Values) plot.Series.Add(series);
    }

    // The FSL-optimal family's best member against a direct search over schedules, per task; the plot shows both LRs.
    private static void Optimal(IReadOnlyList<KernelRegressionTask> tasks, double eta, int n, StringBuilder csv, PlotModel plot, string folder)
    {
        var rates = new StringBuilder();
        Line(rates, $"task,step,family_lr,search_lr");
        plot.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "step" });
        plot.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Left, Title = "learning rate" });
        Line(csv, $"task,family_scale,family_risk,theory_scale,theory_risk,search_risk,search_evaluations,family_excess,best_wsd_fraction,best_wsd_risk,cosine_risk");
        Console.WriteLine("Final excess risk: the FSL-optimal family (c searched, η_max = the peak), the same with the theory's c*, a direct search");
        Console.WriteLine("(piecewise-linear log-LR, 8 knots, Nelder–Mead), the best linear WSD and a cosine, all at the same peak:");
        Console.WriteLine("| task | family (c) | theory's c* | direct search (evaluations) | family above search | best WSD (cooldown) | cosine |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var task in tasks)
        {
            var check = TheoryExperiments.Optimal(task, eta, n);
            Line(csv, $"{Label(task)},{check.FamilyScale:R},{check.FamilyRisk:R},{check.TheoryScale:R},{check.TheoryRisk:R},{check.SearchRisk:R},{check.Evaluations},{check.FamilyExcess:R},{check.BestWsdFraction:R},{check.BestWsdRisk:R},{check.CosineRisk:R}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Label(task)} | {check.FamilyRisk:G4} ({check.FamilyScale:G3}) | {check.TheoryRisk:G4} ({check.TheoryScale:G3}) | {check.SearchRisk:G4} ({check.Evaluations}) | {check.FamilyExcess:+0.0%;-0.0%} | {check.BestWsdRisk:G4} ({check.BestWsdFraction:P0}) | {check.CosineRisk:G4} |"));
            for (int k = 0; k < n; k++) Line(rates, $"{Label(task)},{k},{check.FamilyRates[k]:R},{check.SearchRates[k]:R}");
            foreach (var (title, lrs, dashed) in new[] { ("family", check.FamilyRates, false), ("search", check.SearchRates, true) })
            {
                var series = new LineSeries { Title = $"{Label(task)}, {title}", LineStyle = dashed ? LineStyle.Dash : LineStyle.Solid };
                for (int k = 0; k < lrs.Count; k++) series.Points.Add(new DataPoint(k, lrs[k]));
                plot.Series.Add(series);
            }
        }
        // Both schedules of every task, step by step.
        AtomicFile.WriteAllText(Path.Combine(folder, "optimal-rates.csv"), rates.ToString());
    }

    private static void Fsl(IReadOnlyList<KernelRegressionTask> tasks, double eta, int n, IReadOnlyList<string> fitOn, StringBuilder csv, PlotModel plot)
    {
        var all = TheoryExperiments.Schedules(eta, n).Select(s => s.Name).ToList();
        // The schedules the fit predicts; when it was fitted to every one, their in-sample errors.
        var shown = all.Where(s => !fitOn.Contains(s)).ToList();
        if (shown.Count == 0) shown = all;
        string fittedText = string.Join(" + ", fitOn);
        bool inSample = shown.All(fitOn.Contains);
        plot.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = tasks.Select(Label).ToList() });
        plot.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = $"relative error of the {(inSample ? "fitted" : "predicted")} final excess risk (fit on {fittedText})" });
        var bars = shown.ToDictionary(s => s, s => new BarSeries { Title = s });
        Line(csv, $"task,schedule,fitted,true_risk,predicted_risk,relative_error");
        Console.WriteLine(inSample
            ? $"Direct FSL fitted to the runs of every schedule ({fittedText}), its final excess risk against each run's (relative error, in sample):"
            : $"Direct FSL fitted to the {fittedText} run{(fitOn.Count > 1 ? "s" : "")}, predicting the final excess risk of the others (relative error):");
        Console.WriteLine($"| task | {string.Join(" | ", shown)} | fitted s, β |");
        Console.WriteLine($"|---|{string.Concat(shown.Select(_ => "---|"))}---|");
        foreach (var task in tasks)
        {
            var result = TheoryExperiments.FslAgainstSimulation(task, eta, n, fitOn.ToHashSet());
            if (result is not { } done)
            {
                Console.WriteLine($"| {Label(task)} | {string.Join(" | ", shown.Select(_ => "fit failed"))} | – |");
                foreach (var s in shown) bars[s].Items.Add(new BarItem(0));
                continue;
            }
            foreach (var c in done.Checks) Line(csv, $"{Label(task)},{c.Schedule},{(c.Fitted ? 1 : 0)},{c.TrueRisk:R},{c.PredictedRisk:R},{c.RelativeError:R}");
            foreach (string s in shown) bars[s].Items.Add(new BarItem(done.Checks.Single(c => c.Schedule == s).RelativeError));
            var p = done.Fit.NamedParameters;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Label(task)} | {string.Join(" | ", shown.Select(s => done.Checks.Single(c => c.Schedule == s).RelativeError.ToString("+0.000;-0.000;+0.000", CultureInfo.InvariantCulture)))} | {p["s"]:G3}, {p["beta"]:G3} |"));
        }
        foreach (var series in bars.Values) plot.Series.Add(series);
    }

    // The controller on sampled runs of every task × budget (seeds 1…K each), against the exactly best decay start: a
    // row per task and budget, then the runs pooled by budget, by σ², by regime and over all (the issue's target: mean
    // regret ≤ 10% of the mean gap between the fixed 20% cooldown and the best start).
    private static void Regret(IReadOnlyList<KernelRegressionTask> tasks, double eta, IReadOnlyList<int> budgets, int seeds,
        TheoryExperiments.RegretEvidence evidence, IReadOnlyList<double> probeAt, TheoryExperiments.RegretObservation observation, int threads, StringBuilder csv, PlotModel plot)
    {
        if (seeds < 1) throw new ArgumentException($"--seeds must be >= 1; got {seeds}.");
        var cells = (from task in tasks from n in budgets select (Task: task, Steps: n)).ToList();
        string CellLabel((KernelRegressionTask Task, int Steps) c) =>
            string.Create(CultureInfo.InvariantCulture, $"{Label(c.Task)} σ²={c.Task.NoiseVariance:G3} N={c.Steps}");
        plot.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = cells.Select(CellLabel).ToList() });
        plot.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "final excess risk above the best decay start", Minimum = 0 });
        var controlled = new BarSeries { Title = "controller (mean over seeds)" };
        var fixedPlan = new BarSeries { Title = "fixed 20% cooldown" };
        Line(csv, $"source,capacity,noise,batch,steps,seed,chosen_start,best_start,chosen_risk,best_risk,fixed_risk,regret,fixed_gap,evidence_step,reachable_risk,reachable_gap");
        Console.WriteLine(evidence == TheoryExperiments.RegretEvidence.Probe
            ? $"Decay-response evidence: probes forked at {string.Join(", ", probeAt.Select(f => string.Create(CultureInfo.InvariantCulture, $"{100 * f:G3}%")))} of the budget."
            : $"Decay-response evidence: {evidence.ToString().ToLowerInvariant()}.");
        Console.WriteLine(observation == TheoryExperiments.RegretObservation.Batch
            ? "The monitor sees each step's training-batch loss."
            : "The monitor sees each iterate's population loss (no sampling noise).");
        Console.WriteLine("| task | σ² | N | best cooldown | chosen cooldowns (range) | kept the plan | mean regret | max regret | fixed 20% gap | mean regret / gap |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var all = new List<(KernelRegressionTask Task, int Steps, TheoryExperiments.RegretRun Run)>();
        foreach (var (task, n) in cells)
        {
            var runs = TheoryExperiments.Regret(task, eta, n, Enumerable.Range(1, seeds).ToList(), threads, evidence, probeAt, observation);
            all.AddRange(runs.Select(r => (task, n, r)));
            foreach (var r in runs)
                Line(csv, $"{task.Source:R},{task.Capacity:R},{task.NoiseVariance:R},{task.BatchSize},{n},{r.Seed},{r.ChosenStart},{r.BestStart},{r.ChosenRisk:R},{r.BestRisk:R},{r.FixedRisk:R},{r.Regret:R},{r.FixedGap:R},{r.EvidenceStep},{r.ReachableRisk:R},{r.ReachableGap:R}");
            double mean = runs.Average(r => r.Regret), gap = runs[0].FixedGap;
            controlled.Items.Add(new BarItem(mean));
            fixedPlan.Items.Add(new BarItem(gap));
            string Cooldown(long start) => ((double)(n - start) / n).ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "", StringComparison.Ordinal);
            string chosen = runs.Count <= 4 ? string.Join(" ", runs.Select(r => Cooldown(r.ChosenStart)))
                : $"{Cooldown(runs.Max(r => r.ChosenStart))}–{Cooldown(runs.Min(r => r.ChosenStart))}";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Label(task)} | {task.NoiseVariance:G3} | {n} | {Cooldown(runs[0].BestStart)} | {chosen} | {runs.Count(r => r.KeptThePlan)}/{runs.Count} | {mean:G3} | {runs.Max(r => r.Regret):G3} | {gap:G3} | {(gap > 0 ? (mean / gap).ToString("F2", CultureInfo.InvariantCulture) : "–")} |"));
        }
        Console.WriteLine();
        // The gap a start at or after the evidence could take (the rest lies before the controller has any): its share of
        // the fixed plan's gap bounds what acting on the evidence can buy.
        Console.WriteLine("| runs pooled | runs | mean regret | max regret | mean fixed 20% gap | mean regret / mean gap | controller worse than the fixed plan | gap reachable after the evidence (share) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        void Pooled(string name, IReadOnlyCollection<TheoryExperiments.RegretRun> runs)
        {
            double regret = runs.Average(r => r.Regret), gap = runs.Average(r => r.FixedGap), reachable = runs.Average(r => r.ReachableGap);
            string Share(double part) => gap > 0 ? (part / gap).ToString("F2", CultureInfo.InvariantCulture) : "–";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {runs.Count} | {regret:G3} | {runs.Max(r => r.Regret):G3} | {gap:G3} | {Share(regret)} | {runs.Count(r => r.Regret > r.FixedGap)} | {reachable:G3} ({Share(reachable)}) |"));
        }
        foreach (var g in all.GroupBy(a => a.Steps)) Pooled($"N = {g.Key}", g.Select(a => a.Run).ToList());
        foreach (var g in all.GroupBy(a => a.Task.NoiseVariance)) Pooled(string.Create(CultureInfo.InvariantCulture, $"σ² = {g.Key:G3}"), g.Select(a => a.Run).ToList());
        foreach (var g in all.GroupBy(a => a.Task.IsEasy)) Pooled(g.Key ? "easy regime" : "hard regime", g.Select(a => a.Run).ToList());
        Pooled("**all**", all.Select(a => a.Run).ToList());
        plot.Series.Add(controlled);
        plot.Series.Add(fixedPlan);
    }
}
