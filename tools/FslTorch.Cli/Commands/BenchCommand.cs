using System.CommandLine;
using System.Globalization;
using FslTorch.Fitting;

namespace FslTorch.Cli.Commands;

/// <summary><c>fsl bench</c>: the laws on real curves (mpl, schedules, curves, decay, all, speed).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks the loss-curve laws on real curves: fit on some runs, predict the others.");

        var jsonOption = new Option<string?>("--json") { Description = "Write the results as JSON to this file." };
        var lawOption = new Option<string[]>("--law")
        {
            Description = "Laws to benchmark (fsl, fsl-tied, fsl-decreases, fsl-direct, fsl-direct-omega, mpl, momentum, or auto: the one fsl fit picks for the runs fitted); auto and all but fsl-tied and fsl-decreases by default.",
            AllowMultipleArgumentsPerToken = true,
        };
        var blockOption = new Option<int>("--block-steps") { Description = "Fit on LR block means of this many steps (1 = exact).", DefaultValueFactory = _ => new FslTorch.Fitting.FitOptions().ScheduleBlockSteps };

        // fsl bench mpl --data ../shared/data/mpl --size 25M --json out.json
        var mplData = new Option<string>("--data") { Description = "The mpl/ folder of the shared data.", Required = true };
        var mplSize = new Option<string>("--size") { Description = "A model size of the manifest (25M or 100M in the shared data).", DefaultValueFactory = _ => "25M" };
        var mpl = new Command("mpl", "The Multi-Power Law paper's protocol: fit on the three 'fit' runs, predict the six others.") { mplData, mplSize, jsonOption, lawOption, blockOption };
        mpl.SetAction(parse => CommandSupport.Run(() =>
        {
            var (fit, predict) = MplDataset.Load(parse.GetValue(mplData)!, parse.GetValue(mplSize)!);
            return CommandSupport.Bench($"mpl-{parse.GetValue(mplSize)}", fit, predict, CommandSupport.Settings(parse, lawOption, blockOption, jsonOption));
        }));
        bench.Subcommands.Add(mpl);

        // fsl bench transfer --data ../shared/data/mpl [--from 25M] [--to 100M] [--short-steps 8000]
        var transferData = new Option<string>("--data") { Description = "The mpl/ folder of the shared data.", Required = true };
        var transferFrom = new Option<string>("--from") { Description = "The smaller size, whose fit gives the curve's shape.", DefaultValueFactory = _ => "25M" };
        var transferTo = new Option<string>("--to") { Description = "The larger size to predict.", DefaultValueFactory = _ => "100M" };
        var shortSteps = new Option<int>("--short-steps") { Description = "How much of the larger size's constant run is seen (its points through this step).", DefaultValueFactory = _ => TransferBenchmark.DefaultShortSteps };
        var transferSpread = new Option<double>("--prior-spread") { Description = "The shape prior's standard deviation in log units.", DefaultValueFactory = _ => TransferBenchmark.DefaultSpread };
        var transfer = new Command("transfer", "A larger model's runs predicted from a smaller model's fit (the shape) and a short stretch of one larger run (the level), on the MPL curves.")
            { transferData, transferFrom, transferTo, shortSteps, transferSpread, jsonOption, lawOption };
        transfer.SetAction(parse => CommandSupport.Run(() =>
        {
            double spread = CommandSupport.PriorSpread(parse, transferSpread);
            var laws = parse.GetValue(lawOption) is { Length: > 0 } given ? given : [FslTorch.Surrogates.LossCurveLaws.Auto];
            foreach (var name in laws) Protocol.CheckLawName(name); // reject unknown names before any work
            CurveFiles.CheckWritable(parse.GetValue(jsonOption), "--json");
            return TransferBenchmark.Run(parse.GetValue(transferData)!, parse.GetValue(transferFrom)!, parse.GetValue(transferTo)!, parse.GetValue(shortSteps), spread,
                laws, parse.GetValue(jsonOption), Console.Out);
        }));
        bench.Subcommands.Add(transfer);

        var schaippData = new Option<string>("--data") { Description = "A schedule grid's folder: schaipp-124m/ of the shared data, or another grid with its manifest layout.", Required = true };
        var peakOption = new Option<double>("--peak-lr") { Description = "The peak LR whose runs are used (one of the grid's: 1e-4, 5e-4, 1e-3 or 2e-3 on the 124M grid).", Required = true };
        // One grid protocol at one peak LR (fsl bench schedules, fsl bench horizon --data ../shared/data/schaipp-124m --peak-lr 1e-3).
        foreach (var (name, description, protocol, tag) in new (string, string, Func<IReadOnlyList<SchaippRun>, double, (IReadOnlyList<ObservedCurve>, IReadOnlyList<ObservedCurve>)>, string)[]
        {
            ("schedules", "Fit on a constant, a short WSD and a cut cosine run at one peak LR; predict every other run at that peak.", SchaippDataset.SchedulesProtocol, ""),
            ("horizon", "Fit on the constant run and the shortest 20%-cooldown run at one peak LR; predict the longer 20%-cooldown runs (a longer budget from a shorter one).", SchaippDataset.HorizonProtocol, "-horizon"),
        })
        {
            var command = new Command(name, description) { schaippData, peakOption, jsonOption, lawOption, blockOption };
            command.SetAction(parse => CommandSupport.Run(() =>
            {
                double peak = parse.GetValue(peakOption);
                string data = parse.GetValue(schaippData)!;
                var (fit, predict) = protocol(SchaippDataset.Load(data, Console.Out), peak);
                return CommandSupport.Bench(string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(data))}{tag}-lr{peak}"), fit, predict, CommandSupport.Settings(parse, lawOption, blockOption, jsonOption));
            }));
            bench.Subcommands.Add(command);
        }

        // fsl bench curves --fit a.csv b.csv --predict c.csv [--from-step K] [--bin N] --json out.json
        var fitFiles = new Option<string[]>("--fit") { Description = "CSV curves (step,lr,loss) to fit on.", Required = true, AllowMultipleArgumentsPerToken = true };
        var predictFiles = new Option<string[]>("--predict") { Description = "CSV curves (step,lr,loss) to predict and score.", Required = true, AllowMultipleArgumentsPerToken = true };
        var fromStep = new Option<int>("--from-step") { Description = "Drop points before this step (e.g. the warmup).", DefaultValueFactory = _ => 0 };
        var binOption = new Option<int>("--bin") { Description = "Average raw per-step losses over windows of N steps before fitting and scoring.", DefaultValueFactory = _ => 1 };
        var dropLast = CurveFiles.DropLastOption();
        var logFormats = new LogFormats.Options();
        var curvesCommand = new Command("curves", "The same protocol on your own curves (step,lr,loss CSV, JSON Lines, trainer_state.json or TensorBoard events).")
            { fitFiles, predictFiles, fromStep, binOption, dropLast, jsonOption, lawOption, blockOption };
        foreach (var option in logFormats.All) curvesCommand.Options.Add(option);
        curvesCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            int from = parse.GetValue(fromStep), bin = parse.GetValue(binOption), last = parse.GetValue(dropLast);
            var formats = logFormats.Read(parse);
            var fit = parse.GetValue(fitFiles)!.Select(f => CurveFiles.Load(f, from, bin, formats, dropLast: last)).ToList();
            var predict = parse.GetValue(predictFiles)!.Select(f => CurveFiles.Load(f, from, bin, formats, dropLast: last)).ToList();
            return CommandSupport.Bench("curves", fit, predict, CommandSupport.Settings(parse, lawOption, blockOption, jsonOption));
        }));
        bench.Subcommands.Add(curvesCommand);

        // fsl bench decay --data ../shared/data/schaipp-124m --json out.json
        var decayData = new Option<string>("--data") { Description = "A schedule grid's folder: schaipp-124m/ of the shared data, or another grid with its manifest layout.", Required = true };
        var marginOption = new Option<double?>("--margin") { Description = "Override the controller's margin (nats); the library default otherwise." };
        var uncertaintyOption = new Option<double?>("--uncertainty-weight") { Description = "Override the controller's uncertainty weight; the library default otherwise." };
        var hindcastOption = new Option<double?>("--hindcast-tolerance") { Description = "Override the controller's hindcast tolerance (fraction of the drop; inf turns the check off)." };
        var decayLaw = new Option<string?>("--law") { Description = "The law of the forecasts (the library default when not given)." };
        var decayPeaks = new Option<double[]>("--peak-lr") { Description = "Only these peak LRs (every peak of the grid by default).", AllowMultipleArgumentsPerToken = true };
        var writePriors = new Option<string?>("--write-priors") { Description = "Write each peak's calibration fit to this folder (prior-PEAK.json) and print, per cell, the fsl watch command that makes the same decision from the run's log." };
        var decayCommand = new Command("decay", "Replays real runs through the TrainingMonitor (library defaults) and scores its decay starts.")
            { decayData, jsonOption, marginOption, uncertaintyOption, hindcastOption, decayLaw, decayPeaks, writePriors };
        decayCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            CurveFiles.CheckWritable(parse.GetValue(jsonOption), "--json");
            var options = new FslTorch.Control.DecayControllerOptions();
            if (parse.GetValue(marginOption) is double margin) options = options with { Margin = margin };
            if (parse.GetValue(uncertaintyOption) is double weight) options = options with { UncertaintyWeight = weight };
            if (parse.GetValue(hindcastOption) is double tolerance) options = options with { HindcastTolerance = tolerance };
            var law = parse.GetValue(decayLaw) is string name ? Protocol.Law(name) : null;
            var peaks = parse.GetValue(decayPeaks) is { Length: > 0 } chosen ? chosen : null;
            if (parse.GetValue(writePriors) is string folder) Directory.CreateDirectory(folder);
            return DecayBenchmark.Run(parse.GetValue(decayData)!, parse.GetValue(jsonOption), Console.Out, options, law, peaks, parse.GetValue(writePriors));
        }));
        bench.Subcommands.Add(decayCommand);

        // fsl bench probe --data ../shared/data/schaipp-124m [--law L] [--peak-lr X…]
        var probeData = new Option<string>("--data") { Description = "A schedule grid's folder: schaipp-124m/ of the shared data, or another grid with its manifest layout.", Required = true };
        var probeLaw = new Option<string?>("--law") { Description = "The law of the forecasts (the library default when not given)." };
        var probePeaks = new Option<double[]>("--peak-lr") { Description = "Only these peak LRs (every peak of the grid by default).", AllowMultipleArgumentsPerToken = true };
        var probeCommand = new Command("probe", "Forecasts of longer cooldowns from a short one (a cooldown probe) on the real runs of a schedule grid (the shared data's 124M one), without a measured prior.")
            { probeData, probeLaw, probePeaks, jsonOption };
        probeCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            CurveFiles.CheckWritable(parse.GetValue(jsonOption), "--json");
            var law = parse.GetValue(probeLaw) is string name ? Protocol.Law(name) : null;
            var peaks = parse.GetValue(probePeaks) is { Length: > 0 } chosen ? chosen : null;
            return ProbeBenchmark.Run(parse.GetValue(probeData)!, parse.GetValue(jsonOption), Console.Out, law, peaks);
        }));
        bench.Subcommands.Add(probeCommand);

        // fsl bench sweep --data ../shared/data/schaipp-124m [--margin 0.02] [--order middle-out] [--prior-spread 0.1] [--prior-on P…] [--no-prior] [--no-widen] [--law L]
        var sweepData = new Option<string>("--data") { Description = "A schedule grid's folder: schaipp-124m/ of the shared data, or another grid with its manifest layout.", Required = true };
        var sweepMargin = new Option<double>("--margin") { Description = "Stop a run forecast (calibrated band) to finish above the best finished run's final loss plus this (nats).", DefaultValueFactory = _ => 0.02 };
        var sweepOrder = new Option<string>("--order") { Description = $"The order the LRs run in ({string.Join(", ", SweepBenchmark.Orders)}).", DefaultValueFactory = _ => SweepBenchmark.Orders[0] };
        sweepOrder.AcceptOnlyFromAmong(SweepBenchmark.Orders);
        var sweepSpread = new Option<double>("--prior-spread") { Description = "The spread (log units) of the prior a run takes from the finished run nearest in LR.", DefaultValueFactory = _ => FslTorch.Control.EarlyAbortSweep.DefaultPriorSpread };
        var noPrior = new Option<bool>("--no-prior") { Description = "No prior from finished runs (each run's decay response from its own points only)." };
        var priorOn = new Option<string[]>("--prior-on") { Description = "The parameters the prior holds (every parameter but the level L0, A when not given; e.g. all seven, or the decay response C tau beta D as for a size sweep).", AllowMultipleArgumentsPerToken = true };
        var noWiden = new Option<bool>("--no-widen") { Description = "Do not widen a run's abort band by the forecast errors of the finished run nearest in LR." };
        var refitFraction = new Option<double>("--refit-every") { Description = "Refit every this fraction of the budget.", DefaultValueFactory = _ => 0.05 };
        var sweepSchedules = new Option<string[]>("--schedule") { Description = "Only these schedules of the grid (e.g. wsd-linear-cd0.2 cosine-to10pct); all that run at four or more LRs (at every LR of a grid with fewer) by default.", AllowMultipleArgumentsPerToken = true };
        var sweepBudgets = new Option<int[]>("--total-steps") { Description = "Only these budgets (25000, 50000).", AllowMultipleArgumentsPerToken = true };
        var sweepLaw = new Option<string?>("--law") { Description = "The law of the forecasts (the library default when not given)." };
        var sweepSideBySide = new Option<bool>("--side-by-side")
        {
            Description = "Every LR of a sweep advancing together (SideBySideSweep): a run whose calibrated band lies above the lowest calibrated forecast of the runs still going plus the margin is stopped at a check. --order, the prior options and --no-widen do not apply.",
        };
        var sweepCheckEvery = new Option<double>("--check-every") { Description = "With --side-by-side: the spacing of the checks, as a fraction of the budget.", DefaultValueFactory = _ => 0.05 };
        var sweepProbes = new Option<bool>("--probes")
        {
            Description = "With --side-by-side: each WSD run forks a cooldown probe, the grid's shortest 10% cooldown at its peak LR (a branch of the constant run, as in bench probe), where that ends before the run's own decay.",
        };
        var sweepCommand = new Command("sweep", "Replays peak-LR sweeps with early abort on the real runs of a schedule grid (the shared data's 124M one): the LR chosen, its regret and the steps saved.")
            { sweepData, sweepMargin, sweepOrder, sweepSpread, noPrior, priorOn, noWiden, refitFraction, sweepSchedules, sweepBudgets, sweepLaw, sweepSideBySide, sweepCheckEvery, sweepProbes, jsonOption };
        sweepCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            double margin = parse.GetValue(sweepMargin);
            if (!(margin >= 0) || double.IsPositiveInfinity(margin)) throw new ArgumentException("--margin must be a finite number >= 0.");
            double fraction = parse.GetValue(refitFraction);
            if (!(fraction > 0 && fraction <= 0.5)) throw new ArgumentException("--refit-every must be in (0, 0.5].");
            double? spread = parse.GetValue(noPrior) ? null : CommandSupport.PriorSpread(parse, sweepSpread);
            CurveFiles.CheckWritable(parse.GetValue(jsonOption), "--json");
            var law = parse.GetValue(sweepLaw) is string lawName ? Protocol.Law(lawName) : FslTorch.Surrogates.LossCurveLaws.Default;
            var held = parse.GetValue(priorOn) is { Length: > 0 } names ? names : null;
            foreach (var name in held ?? []) law.IndexOf(name); // unknown names throw before any work
            double? checkEvery = null;
            if (parse.GetValue(sweepSideBySide))
            {
                foreach (var sequentialOnly in new Option[] { sweepOrder, sweepSpread, noPrior, priorOn, noWiden })
                {
                    if (parse.GetResult(sequentialOnly) is { Implicit: false }) throw new ArgumentException($"{sequentialOnly.Name} does not go with --side-by-side.");
                }
                double every = parse.GetValue(sweepCheckEvery);
                if (!(every > 0 && every <= 0.5)) throw new ArgumentException("--check-every must be in (0, 0.5].");
                checkEvery = every;
            }
            else if (parse.GetResult(sweepCheckEvery) is { Implicit: false }) throw new ArgumentException("--check-every goes with --side-by-side.");
            else if (parse.GetValue(sweepProbes)) throw new ArgumentException("--probes goes with --side-by-side (the sequential sweep's runs take a prior from the finished ones).");
            return SweepBenchmark.Run(parse.GetValue(sweepData)!, margin, parse.GetValue(sweepOrder)!, spread, held, fraction, !parse.GetValue(noWiden),
                parse.GetValue(sweepSchedules) is { Length: > 0 } s ? s : null, parse.GetValue(sweepBudgets) is { Length: > 0 } b ? b : null,
                parse.GetValue(jsonOption), Console.Out, law, checkEvery, parse.GetValue(sweepProbes));
        }));
        bench.Subcommands.Add(sweepCommand);

        // fsl bench all --data ../shared/data --json all.json
        var allData = new Option<string>("--data") { Description = "The shared data folder (with mpl/ and schedule grids such as schaipp-124m/).", Required = true };
        var allCommand = new Command("all", "Every protocol on the shared data: one table of laws × protocols (strict/standard PredE, WorstE, fit seconds, failures).")
            { allData, jsonOption, lawOption, blockOption };
        allCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            var settings = CommandSupport.Settings(parse, lawOption, blockOption, jsonOption);
            return AllBenchmark.Run(parse.GetValue(allData)!, settings.Laws, settings.FitOptions, settings.Json, Console.Out);
        }));
        bench.Subcommands.Add(allCommand);

        // fsl bench speed [--steps 100000]
        var speedSteps = new Option<int>("--steps") { Description = "Trajectory length.", DefaultValueFactory = _ => 100_000 };
        var speedRepeats = new Option<int>("--repeats") { Description = "Timed repetitions (the best is reported).", DefaultValueFactory = _ => 5 };
        var speed = new Command("speed", "Times the fast evaluation of every law on a full trajectory, and the exact sums beside it.") { speedSteps, speedRepeats };
        speed.SetAction(parse => CommandSupport.Run(() => SpeedBenchmark.Run(parse.GetValue(speedSteps), parse.GetValue(speedRepeats))));
        bench.Subcommands.Add(speed);
        // fsl bench decision [--steps 1000000]
        var decisionSteps = new Option<int>("--steps") { Description = "The budget N.", DefaultValueFactory = _ => 1_000_000 };
        var decision = new Command("decision", "What one decay decision allocates and takes at a large budget.") { decisionSteps };
        decision.SetAction(parse => CommandSupport.Run(() => DecisionBenchmark.Run(parse.GetValue(decisionSteps))));
        bench.Subcommands.Add(decision);
        return bench;
    }
}
