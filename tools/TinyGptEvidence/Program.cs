// tinygpt-evidence: what FslTorch's decay control buys on the TinyGpt sample, measured with paired seeds; and
// (subcommand `live`) how the forecasts made during TinyGpt runs compare with the losses the runs reached.
//
//   dotnet run --project tools/TinyGptEvidence -c Release -- --out runs/evidence [--seeds 1 2 3] [--steps 1000]
//   dotnet run --project tools/TinyGptEvidence -c Release -- live --out runs/live [--corpus default NAME=PATH] [--seeds 1 2 3] [--steps 3000]
//
// For each seed: a constant-LR run keeping checkpoints at the grid's decay starts; WSD runs with the cooldown
// fractions of the grid, each branched from that checkpoint (equal to a full run, tested); a cosine to 10%;
// and a controlled run (library defaults, prior from two calibration runs of at most 30% of the budget,
// shared by all seeds). Results: evidence.md and evidence.json in the output folder.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using TinyGpt;
using TinyGptEvidence;

var output = new Option<string>("--out") { Description = "Folder of the runs and results.", DefaultValueFactory = _ => "runs/evidence" };
var seeds = new Option<long[]>("--seeds") { Description = "Seeds (at least 2 for a paired spread).", DefaultValueFactory = _ => [1, 2, 3], AllowMultipleArgumentsPerToken = true };
var steps = new Option<long>("--steps") { Description = "Budget N of every compared run.", DefaultValueFactory = _ => 1000 };
var fractions = new Option<double[]>("--fractions") { Description = "Fixed WSD cooldown fractions of the grid.", DefaultValueFactory = _ => [0.1, 0.2, 0.3, 0.4, 0.6], AllowMultipleArgumentsPerToken = true };
var calibration = new Option<double>("--calibration-fraction") { Description = "Length of each calibration run as a fraction of N.", DefaultValueFactory = _ => 0.3 };
var calibrationSeed = new Option<long>("--calibration-seed") { Description = "Seed of the calibration runs (not one of --seeds).", DefaultValueFactory = _ => 1000 };
var threads = new Option<int>("--threads") { Description = "CPU threads of each run.", DefaultValueFactory = _ => 2 };
var data = new Option<string?>("--data") { Description = "Training text (TinyGpt's default corpus when absent)." };
var preset = new Option<string>("--preset") { Description = "TinyGpt preset of the model (small: 4 layers, width 96, context 128, batch 32, LR 6e-3).", DefaultValueFactory = _ => "small" };
var root = new RootCommand("Paired-seed evidence for TinyGpt: controlled WSD vs fixed cooldown fractions, cosine and constant.")
    { output, seeds, steps, fractions, calibration, calibrationSeed, threads, data, preset, LiveCommand.Create(), SizesCommand.Create(), LrSweepCommand.Create(), CurveSmoothness.Create() };
root.SetAction(parse =>
{
    var seedList = parse.GetValue(seeds)!;
    long total = parse.GetValue(steps);
    var grid = parse.GetValue(fractions)!;
    double calibrationFraction = parse.GetValue(calibration);
    if (seedList.Length < 1 || seedList.Distinct().Count() != seedList.Length) { Console.Error.WriteLine("tinygpt-evidence: --seeds must be distinct."); return 2; }
    if (grid.Length == 0 || grid.Any(f => !(f > 0 && f < 0.95))) { Console.Error.WriteLine("tinygpt-evidence: --fractions must lie in (0, 0.95)."); return 2; }
    if (!(calibrationFraction > 0 && calibrationFraction <= 0.3)) { Console.Error.WriteLine("tinygpt-evidence: --calibration-fraction must lie in (0, 0.3]."); return 2; }
    if (seedList.Contains(parse.GetValue(calibrationSeed))) { Console.Error.WriteLine("tinygpt-evidence: --calibration-seed must differ from --seeds."); return 2; }

    string folder = Path.GetFullPath(parse.GetValue(output)!);
    Directory.CreateDirectory(folder);
    var runs = new TrainingRuns(folder, Console.Out);
    var clock = Stopwatch.StartNew();
    string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
    List<string> Common(long seed, long budget) =>
        RunArguments.Of(parse.GetValue(preset)!, budget, seed, parse.GetValue(threads), parse.GetValue(data));

    // ---- calibration: one short WSD and one short cosine run, fitted jointly; their fit is the prior ----------------
    long calibrationSteps = (long)Math.Floor(calibrationFraction * total);
    long calSeed = parse.GetValue(calibrationSeed);
    var calibrationRuns = new[]
    {
        ("calibration-wsd", runs.Run("calibration-wsd", [.. Common(calSeed, calibrationSteps), "--schedule", "wsd:0.2"])),
        ("calibration-cosine", runs.Run("calibration-cosine", [.. Common(calSeed, calibrationSteps), "--schedule", "cosine"])),
    };
    string priorFile = Path.Combine(folder, "prior.json");
    var curves = calibrationRuns.Select(r =>
    {
        var settings = RunFolder.ReadConfig(runs.Folder(r.Item1));
        // The first fifth of a short byte-level run is a plateau and a sudden drop, not the power law the FSL
        // describes: the fit starts after it (and after the warmup).
        long from = Math.Max(RunSchedule.WarmupSteps(settings), settings.Steps / 5);
        return ObservedCurve.FromCsv(Path.Combine(runs.Folder(r.Item1), "losses.csv"), r.Item1).Where(s => s >= from);
    }).ToList();
    var priorFit = LawFitter.Fit(LossCurveLaws.Default, curves);
    if (!priorFit.Succeeded) { Console.Error.WriteLine($"tinygpt-evidence: the calibration fit failed ({priorFit.ExitReason}: {priorFit.Message})."); return 1; }
    priorFit.SaveParameters(priorFile);
    Console.WriteLine($"prior: {string.Join(", ", priorFit.NamedParameters.Select(p => $"{p.Key} {p.Value:G4}"))}");

    // ---- per seed: constant (with branch points), fixed WSD branches, cosine; then the controlled runs -------------
    var finalEval = new Dictionary<string, double[]>();
    var summaries = new Dictionary<(string, long), RunSummary>();
    void Record(string schedule, int index, long seed, RunSummary summary)
    {
        if (!finalEval.TryGetValue(schedule, out var losses)) finalEval[schedule] = losses = new double[seedList.Length];
        losses[index] = summary.FinalEvalLoss;
        summaries[(schedule, seed)] = summary;
    }
    var branchPoints = grid.Select(f => WsdSchedule.DecayStartForFraction(total, f)).ToList();
    for (int i = 0; i < seedList.Length; i++)
    {
        long seed = seedList[i];
        string constant = $"seed{seed}-constant";
        Record("constant", i, seed, runs.Run(constant,
            [.. Common(seed, total), "--schedule", "constant", "--prior", priorFile, "--checkpoint-at", .. branchPoints.Select(b => b.ToString(CultureInfo.InvariantCulture))]));
        for (int j = 0; j < grid.Length; j++)
        {
            string schedule = $"wsd:{F(grid[j])}";
            Record(schedule, i, seed, runs.Run($"seed{seed}-wsd{F(grid[j])}",
                ["--branch-from", runs.Folder(constant), "--branch-step", branchPoints[j].ToString(CultureInfo.InvariantCulture), "--schedule", schedule]));
        }
        Record("cosine", i, seed, runs.Run($"seed{seed}-cosine", [.. Common(seed, total), "--schedule", "cosine", "--prior", priorFile]));
    }
    for (int i = 0; i < seedList.Length; i++)
    {
        long seed = seedList[i];
        Record("controlled", i, seed, runs.Run($"seed{seed}-controlled", [.. Common(seed, total), "--schedule", "controlled", "--prior", priorFile]));
    }

    // ---- results ---------------------------------------------------------------------------------------------------------
    var evidence = PairedEvidence.Build(seedList, finalEval);
    var forecasts = summaries.Where(s => s.Key.Item1 is "controlled" or "cosine")
        .SelectMany(s => s.Value.Forecasts.Select(f => new
        {
            schedule = s.Key.Item1,
            seed = s.Key.Item2,
            fraction = f.Fraction,
            step = f.Step,
            forecast = f.FinalLossAsRun,
            forecast_as_scheduled_then = f.FinalLoss,
            final_eval_loss = s.Value.FinalEvalLoss,
            final_training_loss = s.Value.FinalTrainingLoss,
        })).OrderBy(f => f.schedule).ThenBy(f => f.fraction).ThenBy(f => f.seed).ToList();
    double calibrationSeconds = calibrationRuns.Sum(r => r.Item2.WallSeconds);
    var report = new
    {
        steps = total,
        seeds = seedList,
        calibration = new
        {
            runs = calibrationRuns.Select(r => r.Item1).ToArray(),
            steps_each = calibrationSteps,
            total_steps = 2 * calibrationSteps,
            wall_seconds = calibrationSeconds,
            cost_in_full_runs = 2.0 * calibrationSteps / total,
            prior = priorFit.NamedParameters,
        },
        final_eval_loss = finalEval,
        paired = evidence.Others.Select(c => new { c.Schedule, mean_eval = c.MeanEvalLoss, minus_controlled = c.MeanDifference, spread = c.DifferenceSpread, per_seed = c.Differences }),
        best_fraction = evidence.BestFraction,
        targets = new { within_best_fraction = evidence.WithinBestFraction, no_worse_than_fixed_0_2 = evidence.NoWorseThanFixed02, beats_cosine_by_more_than_spread = evidence.BeatsCosine },
        controlled_decay_starts = seedList.Select(s => summaries[("controlled", s)].DecayStartStep).ToArray(),
        forecasts,
        wall_seconds = clock.Elapsed.TotalSeconds,
    };
    File.WriteAllText(Path.Combine(folder, "evidence.json"), JsonSerializer.Serialize(report, new JsonSerializerOptions
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN spreads of one seed
    }));

    using var markdown = new StringWriter(CultureInfo.InvariantCulture);
    markdown.WriteLine($"Paired over seeds {string.Join(", ", seedList)}; {total} steps per run.");
    markdown.WriteLine();
    markdown.Write(evidence.Table());
    markdown.WriteLine();
    markdown.WriteLine($"Controlled decay starts: {string.Join(", ", report.controlled_decay_starts)}.");
    markdown.WriteLine($"Targets: within {PairedEvidence.WithinBestTolerance} of the best fraction ({evidence.BestFraction}): {evidence.WithinBestFraction}; " +
                       $"no worse than wsd:0.2: {evidence.NoWorseThanFixed02}; better than cosine by more than the paired spread: {evidence.BeatsCosine}.");
    markdown.WriteLine($"Calibration: {report.calibration.total_steps} steps in two runs, {calibrationSeconds:F0} s of training loops ({report.calibration.cost_in_full_runs:F2} of one full run's steps), once for all seeds.");
    markdown.WriteLine();
    markdown.WriteLine("| run | forecast at | step | forecast final loss (schedule as run) | final eval | final training | error vs eval | error vs training |");
    markdown.WriteLine("|---|---|---|---|---|---|---|---|");
    foreach (var f in forecasts)
    {
        markdown.WriteLine($"| {f.schedule} seed {f.seed} | {f.fraction:P0} | {f.step} | {f.forecast:F4} | {f.final_eval_loss:F4} | {f.final_training_loss:F4} | {f.forecast - f.final_eval_loss:+0.0000;-0.0000;+0.0000} | {f.forecast - f.final_training_loss:+0.0000;-0.0000;+0.0000} |");
    }
    foreach (var group in forecasts.GroupBy(f => (f.schedule, f.fraction)))
    {
        markdown.WriteLine($"mean |error| of {group.Key.schedule} forecasts at {group.Key.fraction:P0}: vs eval {group.Average(f => Math.Abs(f.forecast - f.final_eval_loss)):F4}, vs training {group.Average(f => Math.Abs(f.forecast - f.final_training_loss)):F4}");
    }
    markdown.WriteLine($"Wall time of this command: {clock.Elapsed.TotalMinutes:F1} min.");
    File.WriteAllText(Path.Combine(folder, "evidence.md"), markdown.ToString());
    Console.WriteLine();
    Console.Write(markdown.ToString());
    return 0;
});
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
{
    // A run that failed, a run folder that belongs to another benchmark, a folder that cannot be written: say which, no stack trace.
    Console.Error.WriteLine($"tinygpt-evidence: {e.Message}");
    return 2;
}
