using System.CommandLine;
using System.Globalization;

namespace FslTorch.Cli.Commands;

/// <summary><c>fsl fit</c>: fits a law to logged curves and writes its parameters.</summary>
internal static class FitCommand
{
    public static Command Create()
    {
        var fromStep = new Option<int>("--from-step") { Description = "Drop points before this step (e.g. the warmup).", DefaultValueFactory = _ => 0 };
        var untilStep = new Option<long?>("--until-step")
        {
            Description = "Drop points after this step: the fit a run had at that step (predict then says what it forecast).",
        };
        var binOption = new Option<int>("--bin") { Description = "Average raw per-step losses over windows of N steps before fitting.", DefaultValueFactory = _ => 1 };
        var dropLast = CurveFiles.DropLastOption();
        var logFormats = new LogFormats.Options();
        // fsl fit --curves a.csv b.csv [--law fsl] --out params.json
        var curvesToFit = new Option<string[]>("--curves") { Description = "Logged curves fitted jointly (see --format).", Required = true, AllowMultipleArgumentsPerToken = true };
        var fitLaw = new Option<string>("--law")
        {
            Description = $"The law, or auto (the default): fsl-direct-omega for runs of two or more LR schedules, else {FslTorch.Surrogates.LossCurveLaws.Default.Name}; with --prior, the prior's law.",
            DefaultValueFactory = _ => FslTorch.Surrogates.LossCurveLaws.Auto,
        };
        var schedules = new Option<string[]>("--schedules")
        {
            Description = "One per curve, in the order of --curves: a schedule spec (with total=) or step,lr CSV giving the LR of every step, for logs that record the LR only at some steps (otherwise interpolated between them, and a warmup before the first is lost); an LR the log recorded must agree within 1%.",
            AllowMultipleArgumentsPerToken = true,
        };
        var fitOut = new Option<string>("--out") { Description = "The parameter file to write (a prior for a later run: TinyGpt --prior).", Required = true };
        var prior = new Option<string?>("--prior") { Description = "A parameter file (fsl fit of other runs) whose values hold the parameters of --prior-on with a Gaussian prior in log space." };
        var priorSpread = new Option<double>("--prior-spread") { Description = "The prior's standard deviation in log units.", DefaultValueFactory = _ => 0.1 };
        var priorOn = new Option<string[]>("--prior-on")
        {
            Description = "The parameters the prior holds (names of the law's parameters; the law's decay-response parameters when not given).",
            AllowMultipleArgumentsPerToken = true,
        };
        var fitCommand = new Command("fit", "Fits a law to curves (step,lr,loss CSV, JSON Lines, trainer_state.json or TensorBoard events) and writes its parameters.")
            { curvesToFit, schedules, fitLaw, fitOut, fromStep, untilStep, binOption, dropLast, prior, priorSpread, priorOn };
        foreach (var option in logFormats.All) fitCommand.Options.Add(option);
        fitCommand.SetAction(parse => CommandSupport.Run(() =>
        {
            CurveFiles.CheckWritable(parse.GetValue(fitOut), "--out");
            var formats = logFormats.Read(parse);
            var files = parse.GetValue(curvesToFit)!;
            var given = parse.GetValue(schedules) ?? [];
            if (given.Length != 0 && given.Length != files.Length) throw new ArgumentException($"--schedules: give one per curve ({files.Length}); got {given.Length}.");
            var curves = files.Select((f, i) => CurveFiles.Load(f, parse.GetValue(fromStep), parse.GetValue(binOption), formats, given.Length == 0 ? null : given[i], parse.GetValue(untilStep),
                parse.GetValue(dropLast))).ToList();
            string lawName = parse.GetValue(fitLaw)!;
            // auto with a prior: the prior's law (its parameters are that law's).
            if (lawName == FslTorch.Surrogates.LossCurveLaws.Auto && parse.GetValue(prior) is string priorFile) lawName = FslTorch.Fitting.FitResult.LoadParameters(priorFile).Law.Name;
            var law = Protocol.Law(lawName, curves);
            FslTorch.Fitting.ParameterPrior? held = null;
            if (parse.GetValue(prior) is string file)
            {
                double spread = CommandSupport.PriorSpread(parse, priorSpread);
                var names = parse.GetValue(priorOn) is { Length: > 0 } chosen ? chosen : null;
                var unknown = names?.Where(n => law.Parameters.All(p => p.Name != n)).ToList();
                if (unknown is { Count: > 0 }) throw new ArgumentException($"--prior-on: {law.Name} has no parameter {string.Join(", ", unknown)}; its parameters are {string.Join(", ", law.Parameters.Select(p => p.Name))}.");
                held = FslTorch.Fitting.ParameterPrior.FromFile(file, law, spread, names);
            }
            else if (parse.GetValue(priorOn) is { Length: > 0 }) throw new ArgumentException("--prior-on needs --prior.");
            var fit = FslTorch.Fitting.LawFitter.Fit(new FslTorch.Fitting.FitProblem(law, curves) { Prior = held }, new FslTorch.Fitting.FitOptions());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{fit.Law.Name}: {fit.ExitReason} ({fit.Message}) in {fit.WallTime.TotalSeconds:F2} s"));
            if (!fit.Succeeded) return 1;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {curves.Sum(c => c.Count)} points in {curves.Count} curve{(curves.Count == 1 ? "" : "s")}; objective {fit.Objective:G4} (Huber on log residuals; LR unit {fit.LearningRateScale:G4})"));
            Console.WriteLine("  parameter  value        standard error");
            for (int j = 0; j < fit.Parameters.Count; j++)
            {
                double se = fit.StandardErrors[j];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {fit.Law.Parameters[j].Name,-9}  {fit.Parameters[j],-11:G6}  {(double.IsFinite(se) ? se.ToString("G3", CultureInfo.InvariantCulture) : "-")}"));
            }
            fit.SaveParameters(parse.GetValue(fitOut)!);
            return 0;
        }));
        return fitCommand;
    }
}
