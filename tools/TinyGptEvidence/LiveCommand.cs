using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FslTorch;
using FslTorch.Control;
using FslTorch.Surrogates;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// <c>live</c>: the live-forecast benchmark. Full TinyGpt runs with the library's defaults (cooldown probe, no prior)
/// for every corpus × seed × schedule; the forecasts of the final loss that each run made at 25/50/75% of its budget
/// are scored against the final training and evaluation loss it reached (<see cref="LiveForecastScore"/>).
/// Results: live.md and live.json in the output folder; finished runs are reused when the command runs again.
/// </summary>
public static class LiveCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder of the runs and results.", DefaultValueFactory = _ => "runs/live" };
        var seeds = new Option<long[]>("--seeds") { Description = "Seeds of every corpus and schedule.", DefaultValueFactory = _ => [1, 2, 3], AllowMultipleArgumentsPerToken = true };
        var steps = new Option<long>("--steps") { Description = "Budget N of every run (default: TinyGpt's).", DefaultValueFactory = _ => Settings.Preset("small").Steps };
        var schedules = new Option<string[]>("--schedules") { Description = "TinyGpt schedules to run.", DefaultValueFactory = _ => ["controlled", "wsd:0.2", "cosine"], AllowMultipleArgumentsPerToken = true };
        var corpora = new Option<string[]>("--corpus")
        {
            Description = "A corpus: 'default' (TinyGpt's own) or NAME=PATH (a UTF-8 text file or a folder of them); repeat for several.",
            DefaultValueFactory = _ => ["default"], AllowMultipleArgumentsPerToken = true,
        };
        var threads = new Option<int>("--threads") { Description = "CPU threads of each run.", DefaultValueFactory = _ => 2 };
        var replay = new Option<bool>("--replay")
        {
            Description = "Do not train: replay the finished runs' logged losses and probes through the monitor (LiveReplay) and score those forecasts; results in replay.md and replay.json.",
        };
        var replayProbes = new Option<double[]?>("--replay-probes")
        {
            Description = "With --replay: use only the runs' cooldown probes that forked at these fractions of the budget (default: all).",
            AllowMultipleArgumentsPerToken = true,
        };
        var replayBorrowProbes = new Option<bool>("--replay-borrow-probes")
        {
            Description = "With --replay (forecasts): replay every fixed WSD run without probes of its own with the probes of the same corpus and seed's controlled run, where both logged the same losses before each probe's fork (what a fixed run would have forked).",
        };
        var tinyGptArguments = new Option<string?>("--tinygpt-args")
        {
            Description = "More TinyGpt flags for every run, in one string (e.g. \"--lr 2e-3 --width 96\"): a recipe other than TinyGpt's defaults. The flags this command sets itself are refused.",
        };
        var replayRefit = new Option<int?>("--replay-refit-every") { Description = "The replay's refit interval in steps (default: 2% of the budget)." };
        var replayOwnSteps = new Option<bool>("--replay-at-run-steps")
        {
            Description = "With --replay: refit at the steps each run refitted at itself (its forecasts.jsonl), each fit warm-started from the one before, instead of at a fixed interval.",
        };
        var replaySteps = new Option<long[]?>("--replay-at-steps")
        {
            Description = "With --replay: refit every run at these steps, each fit warm-started from the one before (a refit plan the runs did not follow).",
            AllowMultipleArgumentsPerToken = true,
        };
        var replayControl = new Option<bool>("--replay-control")
        {
            Description = "With --replay: instead of scoring forecasts, replay the decay controller on every WSD run (fixed ones as if controlled: their losses up to a move are a controlled run's) up to its first move of the decay start (the losses after it belong to a schedule the run did not take) and report where it would have put it; results in replay-control.md.",
        };
        var replayRefined = new Option<int?>("--replay-refined-starts")
        {
            Description = "With --replay (forecasts): refine this many of each fit's best screened starts to the end (FitOptions.RefinedStarts; the library's default when absent), to compare with the runs' own.",
        };
        var replayRandom = new Option<int?>("--replay-random-starts")
        {
            Description = "With --replay (forecasts): draw this many random starts in each refit's own fit (ForecasterOptions.RandomStarts; the library's default, 4, when absent; 0: none, as before the thirty-first session), to compare with the runs' own.",
        };
        var replayLaw = new Option<string?>("--replay-law")
        {
            Description = $"With --replay (forecasts): forecast with this law instead of the runs' own ({string.Join(", ", LossCurveLaws.Names)}), to compare laws on the same runs.",
        };
        var command = new Command("live", "Live-forecast benchmark: the forecasts made at 25/50/75% of TinyGpt runs against the final loss they reached.")
            { output, seeds, steps, schedules, corpora, threads, replay, replayRefit, replayOwnSteps, replaySteps, replayProbes, replayControl, replayRefined, replayRandom, replayBorrowProbes, replayLaw, tinyGptArguments };
        command.SetAction(parse =>
        {
            var seedList = parse.GetValue(seeds)!;
            var scheduleList = parse.GetValue(schedules)!;
            long total = parse.GetValue(steps);
            if (seedList.Length == 0 || seedList.Distinct().Count() != seedList.Length) return Fail("--seeds must be distinct.");
            if (scheduleList.Length == 0 || scheduleList.Distinct().Count() != scheduleList.Length) return Fail("--schedules must be distinct.");
            if (total < 100) return Fail("--steps must be at least 100.");
            var corpusList = new List<(string Name, string? Path)>();
            foreach (string spec in parse.GetValue(corpora)!)
            {
                if (spec == "default") { corpusList.Add(("default", null)); continue; }
                int eq = spec.IndexOf('=');
                if (eq <= 0 || eq == spec.Length - 1) return Fail($"--corpus '{spec}': expected 'default' or NAME=PATH.");
                string path = Path.GetFullPath(spec[(eq + 1)..]);
                if (!File.Exists(path) && !Directory.Exists(path)) return Fail($"--corpus '{spec}': {path} does not exist.");
                corpusList.Add((spec[..eq], path));
            }
            if (corpusList.Select(c => c.Name).Distinct().Count() != corpusList.Count) return Fail("--corpus names must be distinct.");

            string[] extra = (parse.GetValue(tinyGptArguments) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string[] setHere = ["--steps", "--seed", "--threads", "--schedule", "--data", "--out", "--resume", "--branch-from", "--overwrite"];
            if (extra.FirstOrDefault(setHere.Contains) is string clash) return Fail($"--tinygpt-args: {clash} is set by this command.");

            bool replaying = parse.GetValue(replay);
            double[]? keptProbes = parse.GetValue(replayProbes) is { Length: > 0 } fractions ? fractions : null;
            if (!replaying && keptProbes != null) return Fail("--replay-probes goes with --replay.");
            bool replayingControl = parse.GetValue(replayControl);
            bool ownSteps = parse.GetValue(replayOwnSteps);
            if (!replaying && ownSteps) return Fail("--replay-at-run-steps goes with --replay.");
            if (ownSteps && replayingControl) return Fail("--replay-control replays at a fixed interval; --replay-at-run-steps does not go with it.");
            if (!replaying && replayingControl) return Fail("--replay-control goes with --replay.");
            long[]? givenSteps = parse.GetValue(replaySteps) is { Length: > 0 } listed ? listed : null;
            if (givenSteps != null && (!replaying || ownSteps || replayingControl)) return Fail("--replay-at-steps goes with --replay alone (not with --replay-at-run-steps or --replay-control).");
            if (givenSteps != null && givenSteps.Any(s => s < 0 || s >= total)) return Fail($"--replay-at-steps: every step must lie in [0, {total}).");
            int? refinedStarts = parse.GetValue(replayRefined);
            if (refinedStarts != null && (!replaying || replayingControl)) return Fail("--replay-refined-starts goes with --replay (not with --replay-control).");
            if (refinedStarts < 1) return Fail("--replay-refined-starts must be >= 1.");
            int? randomStarts = parse.GetValue(replayRandom);
            if (randomStarts != null && (!replaying || replayingControl)) return Fail("--replay-random-starts goes with --replay (not with --replay-control).");
            if (randomStarts < 0) return Fail("--replay-random-starts must be >= 0.");
            bool borrowProbes = parse.GetValue(replayBorrowProbes);
            if (borrowProbes && (!replaying || replayingControl)) return Fail("--replay-borrow-probes goes with --replay (not with --replay-control).");
            string? lawName = parse.GetValue(replayLaw);
            if (lawName != null && (!replaying || replayingControl)) return Fail("--replay-law goes with --replay (not with --replay-control).");
            if (lawName != null && !LossCurveLaws.Names.Contains(lawName)) return Fail($"--replay-law: unknown law '{lawName}'; expected one of {string.Join(", ", LossCurveLaws.Names)}.");
            if (lawName != null && (parse.GetValue(tinyGptArguments) ?? "").Contains("--prior", StringComparison.Ordinal))
            {
                return Fail("--replay-law: the runs have a measured prior (--prior), which holds another law's parameters.");
            }
            // The runs' prior holds the default law's parameters: another law gets its own built-in prior where it has one,
            // as a run with that law would (none for a law without one). A measured prior (--prior) cannot move.
            var replayedLaw = lawName != null ? LossCurveLaws.Create(lawName) : null;
            var replayedPrior = replayedLaw != null ? BuiltInPrior(replayedLaw) : null;
            Func<ForecasterOptions, ForecasterOptions>? adjust = refinedStarts == null && randomStarts == null && replayedLaw == null ? null : o => o with
            {
                FitOptions = o.FitOptions with { RefinedStarts = refinedStarts ?? o.FitOptions.RefinedStarts },
                RandomStarts = randomStarts ?? o.RandomStarts,
                Law = replayedLaw ?? o.Law,
                Prior = replayedLaw != null ? replayedPrior : o.Prior,
            };
            var control = new StringBuilder();
            int replayInterval = parse.GetValue(replayRefit) ?? (int)Math.Max(10, total / 50);
            if (replayInterval < 1) return Fail("--replay-refit-every must be >= 1.");
            string folder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(folder);
            var runs = new TrainingRuns(folder, Console.Out);
            var clock = Stopwatch.StartNew();
            var scored = new List<ScoredForecast>();
            var runReports = new List<LiveRun>();
            var shares = new List<double>();
            // Seed by seed, so that an interrupted benchmark has as many runs of every corpus and schedule.
            foreach (long seed in seedList)
            {
                foreach (var (corpus, path) in corpusList)
                {
                    foreach (string schedule in scheduleList)
                    {
                        List<string> arguments = ["--steps", total.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture),
                            "--threads", parse.GetValue(threads).ToString(CultureInfo.InvariantCulture), "--schedule", schedule];
                        if (path != null) arguments.AddRange(["--data", path]);
                        arguments.AddRange(extra);
                        string name = $"{corpus}-seed{seed}-{schedule.Replace(':', '-')}";
                        RunSummary summary;
                        IReadOnlyList<ForecastCheck> checks;
                        if (replaying)
                        {
                            string summaryFile = Path.Combine(runs.Folder(name), "summary.json");
                            if (!File.Exists(summaryFile))
                            {
                                Console.WriteLine($"{name}: not finished, left out of the replay");
                                continue;
                            }
                            summary = RunSummary.Read(summaryFile);
                            try
                            {
                                if (replayingControl)
                                {
                                    if (LiveReplay.Decisions(runs.Folder(name), replayInterval, probeFractions: keptProbes) is { } decisions)
                                    {
                                        control.AppendLine(ControlRow(name, decisions));
                                        Console.WriteLine($"{name}: {ControlRow(name, decisions)}");
                                    }
                                    continue;
                                }
                                string? donor = borrowProbes && schedule.StartsWith("wsd:", StringComparison.Ordinal) && summary.ProbeSteps == 0 ? runs.Folder($"{corpus}-seed{seed}-controlled") : null;
                                checks = givenSteps != null ? LiveReplay.ForecastsAtSteps(runs.Folder(name), givenSteps, adjust, keptProbes, donor)
                                    : ownSteps ? LiveReplay.ForecastsAtTheRunsSteps(runs.Folder(name), adjust, keptProbes, donor)
                                    : LiveReplay.Forecasts(runs.Folder(name), replayInterval, adjust, keptProbes, donor);
                            }
                            catch (InvalidDataException e)
                            {
                                Console.WriteLine($"{name}: left out of the replay: {e.Message}");
                                continue;
                            }
                        }
                        else
                        {
                            summary = runs.Run(name, arguments);
                            checks = summary.Forecasts;
                        }
                        shares.Add(summary.MonitorShare);
                        scored.AddRange(checks.Select(check => new ScoredForecast(corpus, schedule, seed, check, summary.FinalTrainingLoss, summary.FinalEvalLoss)));
                        runReports.Add(new LiveRun(name, corpus, schedule, seed, summary.FinalTrainingLoss, summary.FinalEvalLoss, summary.DecayStartStep,
                            summary.WallSeconds, summary.MonitorShare, summary.ProbeSteps));
                    }
                }
            }
            if (replayingControl)
            {
                if (control.Length == 0) return Fail("no finished WSD run to replay the decay control on.");
                string table = "| run | decay start | cooldown | moved at | last decision |\n|---|---|---|---|---|\n" + control;
                AtomicFile.WriteAllText(Path.Combine(folder, "replay-control.md"), string.Create(CultureInfo.InvariantCulture,
                    $"Decay control on the replays (refits every {replayInterval} steps; each replay stops at the controller's first move; fixed WSD runs replayed as if controlled):\n\n") + table);
                Console.WriteLine();
                Console.Write(table);
                return 0;
            }
            if (scored.Count == 0) return Fail("no finished run to score.");
            var score = new LiveForecastScore(scored);
            // The decay control, paired per seed (as the paired evidence command reports it), for every corpus whose
            // schedules all ran every seed.
            var paired = new StringBuilder();
            foreach (var (corpus, _) in corpusList)
            {
                var finalEval = scheduleList.ToDictionary(s => s, s => seedList.Select(seed => FinalEval(corpus, s, seed)).ToArray());
                if (!finalEval.ContainsKey("controlled") || !scheduleList.Any(s => s.StartsWith("wsd:", StringComparison.Ordinal))
                    || finalEval.Values.Any(v => v.Any(double.IsNaN))) continue;
                paired.AppendLine(CultureInfo.InvariantCulture, $"Final eval loss, {corpus}, paired over seeds {string.Join(", ", seedList)}:");
                paired.AppendLine();
                paired.Append(PairedEvidence.Build(seedList, finalEval).Table());
                paired.AppendLine();
            }
            double FinalEval(string corpus, string schedule, long seed) =>
                runReports.Where(r => r.Corpus == corpus && r.Schedule == schedule && r.Seed == seed).Select(r => r.FinalEvalLoss).DefaultIfEmpty(double.NaN).First();
            var overall = score.Overall;
            var report = new
            {
                steps = total,
                tinygpt_args = extra,
                seeds = seedList,
                schedules = scheduleList,
                corpora = corpusList.Select(c => new { name = c.Name, path = c.Path }),
                replay = replaying ? new { refit_every = ownSteps ? (int?)null : replayInterval, at_run_steps = ownSteps, probes = keptProbes } : null,
                runs = runReports,
                groups = score.ByGroup().Select(g => new { g.Key.Corpus, g.Key.Schedule, g.Key.Fraction, g.Score }),
                per_corpus = score.ByCorpusAndFraction().Select(g => new { g.Key.Corpus, g.Key.Fraction, g.Score }),
                overall,
                targets = new
                {
                    error_at_50 = new { all = score.ErrorTargetMet(0.5, LiveForecastScore.Target50, false), calibrated = score.ErrorTargetMet(0.5, LiveForecastScore.Target50, true) },
                    error_at_25 = new { all = score.ErrorTargetMet(0.25, LiveForecastScore.Target25, false), calibrated = score.ErrorTargetMet(0.25, LiveForecastScore.Target25, true) },
                    coverage = new { all = score.CoverageTargetMet(false), calibrated = score.CoverageTargetMet(true) },
                },
                wall_seconds = clock.Elapsed.TotalSeconds,
            };
            string results = replaying ? "replay" : "live";
            AtomicFile.WriteAllText(Path.Combine(folder, results + ".json"), JsonSerializer.Serialize(report, new JsonSerializerOptions
            {
                WriteIndented = true,
                NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN when no forecast was calibrated
            }));
            string markdown = string.Create(CultureInfo.InvariantCulture,
                $"{(replaying ? $"Replayed forecasts (no training; {(ownSteps ? "refits at each run's own refit steps" : $"refits every {replayInterval} steps")}, no decay control{(lawName != null ? $"; law {lawName}" : "")}{(keptProbes != null ? $"; only the probes at {string.Join(", ", keptProbes)} of the budget" : "")})" : "Live forecasts")}: {string.Join(", ", corpusList.Select(c => c.Name))} × seeds {string.Join(", ", seedList)} × {string.Join(", ", scheduleList)}; {total} steps per run; errors are forecast − final training loss (nats).\n\n")
                + score.Table() + "\n" + paired
                + string.Create(CultureInfo.InvariantCulture, $"Monitor share of the runs' wall time: mean {shares.Average():P2}, highest {shares.Max():P2}. Wall time of this command: {clock.Elapsed.TotalMinutes:F1} min.\n");
            AtomicFile.WriteAllText(Path.Combine(folder, results + ".md"), markdown);

            Console.WriteLine();
            Console.Write(markdown);
            return 0;
        });
        return command;
    }

    /// <summary>One run of the benchmark, as live.json lists it.</summary>
    private sealed record LiveRun(string Run, string Corpus, string Schedule, long Seed, double FinalTrainingLoss, double FinalEvalLoss, long? DecayStart,
        double WallSeconds, double MonitorShare, long ProbeSteps);

    // A law's built-in prior; null for a law without one.
    private static FslTorch.Fitting.ParameterPrior? BuiltInPrior(LossCurveLaw law)
    {
        try
        {
            return FslTorch.Fitting.ParameterPrior.BuiltIn(law);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    // One row of replay-control.md: where the controller put the decay start, and why.
    private static string ControlRow(string name, DecisionReplay replay)
    {
        var last = replay.Decisions.Count > 0 ? replay.Decisions[^1] : null;
        return string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {replay.DecayStart}{(replay.Moved ? "" : " (plan)")} | {replay.CooldownFraction:P0} | {(replay.Moved ? last!.Step.ToString(CultureInfo.InvariantCulture) : "–")} | {(last == null ? "none" : $"step {last.Step}: {last.Reason.Replace('|', '/')}")} |");
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tinygpt-evidence live: {message}");
        return 2;
    }
}
