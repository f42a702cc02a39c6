using FslTorch;
using System.CommandLine;
using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli.Commands;

/// <summary><c>fsl predict</c>: the loss curve of any schedule, with its band, from a parameter file.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var parameters = new Option<string>("--params") { Description = "A parameter file written by fsl fit.", Required = true };
        var schedule = new Option<string>("--schedule")
        {
            Description = "A schedule spec (e.g. wsd:peak=3e-4,warmup=2000,total=24000,decay=0.2,shape=1-sqrt) or a step,lr CSV file.",
            Required = true,
        };
        var totalSteps = new Option<long?>("--total-steps") { Description = "The run's length (default: the spec's total=, or the CSV's last step + 1)." };
        var points = new Option<int>("--points") { Description = "How many evenly spaced steps to predict.", DefaultValueFactory = _ => 200 };
        var output = new Option<string>("--out") { Description = "The CSV to write: step,lr,loss,lower,upper (the 10–90% band over parameter draws).", Required = true };
        var command = new Command("predict", "Predicts the loss curve of a schedule from fitted parameters, with its band.") { parameters, schedule, totalSteps, points, output };
        command.SetAction(parse => CommandSupport.Run(() =>
        {
            string outPath = parse.GetValue(output)!;
            CurveFiles.CheckWritable(outPath, "--out");
            int count = parse.GetValue(points);
            if (count < 2) throw new ArgumentException($"--points must be >= 2; got {count}.");
            var fit = FitResult.LoadParameters(parse.GetValue(parameters)!);
            var (rates, total) = CurveFiles.ReadSchedule(parse.GetValue(schedule)!, parse.GetValue(totalSteps));
            var predicted = PredictedCurve.Of(fit, rates, PredictedCurve.EvenSteps(total, count));
            var lines = new List<string> { "step,lr,loss,lower,upper" };
            for (int i = 0; i < predicted.Steps.Length; i++)
            {
                int step = predicted.Steps[i];
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{step},{rates[step]:R},{predicted.Loss[i]:R},{predicted.Lower[i]:R},{predicted.Upper[i]:R}"));
            }
            AtomicFile.WriteAllText(outPath, string.Join('\n', lines) + "\n");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{fit.Law.Name}: final loss at step {predicted.Steps[^1]} {predicted.Loss[^1]:F4} [{predicted.Lower[^1]:F4}, {predicted.Upper[^1]:F4}]{(predicted.HasBand ? "" : " (no band: the parameter file has no covariance)")}; {predicted.Steps.Length} points in {outPath}"));
            return 0;
        }));
        return command;
    }
}
