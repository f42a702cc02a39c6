using System.Globalization;
using System.Text.Json;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tests.Fitting;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary><c>fsl fit</c> → <c>fsl predict</c> / <c>fsl decay</c> / <c>fsl plot</c> end to end on curves the test writes.</summary>
public sealed class PredictAndDecayCommandTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-predict-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_folder.FullName, name);

    // A parameter file: fsl fit on a constant and a WSD curve of the direct FSL (raw LR units, peak 3e-4).
    private string Parameters()
    {
        const double p = SyntheticCurves.Peak;
        double[] raw = [3.1, 4.0, 2e-4 / (p * p), 300 * p, 0.5, 2.0, 2e-4 / (p * p)];
        var files = new[] { "constant", "wsd" }.Select(name =>
        {
            var curve = SyntheticCurves.Generate(new FslDirectLaw(), raw, name, noise: 0.002, seed: 1);
            return SyntheticCurves.WriteCsv(curve, Path(name + ".csv"));
        }).ToArray();
        string parameters = Path("params.json");
        var (code, output, error) = CliProcess.Run(["fit", "--curves", .. files, "--law", "fsl-direct", "--out", parameters]);
        Assert.True(code == 0, output + error);
        return parameters;
    }

    [Fact]
    public void PredictWritesTheCurveOfAScheduleSpecOrCsvWithItsBand()
    {
        string parameters = Parameters();
        var fit = FitResult.LoadParameters(parameters);
        Assert.NotEmpty(fit.DrawParameters(4, seed: 1)); // the file kept the covariance

        const string spec = "wsd:peak=3e-4,warmup=300,total=8000,decay=0.3,shape=1-sqrt";
        string curve = Path("curve.csv");
        var (code, output, error) = CliProcess.Run("predict", "--params", parameters, "--schedule", spec, "--points", "50", "--out", curve);
        Assert.True(code == 0, output + error);
        var rows = File.ReadAllLines(curve).Skip(1).Select(l => l.Split(',').Select(c => double.Parse(c, CultureInfo.InvariantCulture)).ToArray()).ToList();
        Assert.Equal(50, rows.Count);
        Assert.Equal(7999, rows[^1][0]);
        var rates = Schedule.Parse(spec).Sample(8000);
        double expected = fit.Predict(rates, [7999], fast: true)[0];
        Assert.Equal(expected, rows[^1][2], 1e-6); // the tool and the tests may round differently (different JIT settings)
        Assert.All(rows, r => Assert.True(r[3] <= r[2] && r[2] <= r[4], "the band holds the prediction"));
        Assert.True(rows[^1][4] > rows[^1][3], "the band has a width");

        // The same schedule as a step,lr CSV gives the same curve.
        string scheduleFile = Path("schedule.csv");
        File.WriteAllLines(scheduleFile, ["step,lr", .. rates.Select((r, k) => string.Create(CultureInfo.InvariantCulture, $"{k},{r:R}"))]);
        string fromCsv = Path("curve2.csv");
        (code, output, error) = CliProcess.Run("predict", "--params", parameters, "--schedule", scheduleFile, "--points", "50", "--out", fromCsv);
        Assert.True(code == 0, output + error);
        Assert.Equal(File.ReadAllLines(curve), File.ReadAllLines(fromCsv));

        // Bad input: a message, exit 2, no output file.
        string never = Path("never.csv");
        (code, _, error) = CliProcess.Run("predict", "--params", parameters, "--schedule", "wsd:peak=3e-4,total=8000", "--out", never);
        Assert.Equal(2, code);
        Assert.Contains("give either decay=F", error);
        (code, _, error) = CliProcess.Run("predict", "--params", parameters, "--schedule", "constant:peak=3e-4", "--out", never);
        Assert.Equal(2, code);
        Assert.Contains("--total-steps", error);
        (code, _, error) = CliProcess.Run("predict", "--params", scheduleFile, "--schedule", spec, "--out", never);
        Assert.Equal(2, code);
        Assert.Contains("not valid JSON", error);
        Assert.False(File.Exists(never));
    }

    [Fact]
    public void FitUntilAStepIsTheFitOfTheLogCutThere()
    {
        // The forecast a run could have made at step 3000: the fit of its log up to there, whatever came after.
        const double p = SyntheticCurves.Peak;
        double[] raw = [3.1, 4.0, 2e-4 / (p * p), 300 * p, 0.5, 2.0, 2e-4 / (p * p)];
        var curve = SyntheticCurves.Generate(new FslDirectLaw(), raw, "wsd", noise: 0.002, seed: 2);
        string whole = SyntheticCurves.WriteCsv(curve, Path("whole.csv"));
        string cut = Path("cut.csv");
        File.WriteAllLines(cut, File.ReadAllLines(whole).Where((line, i) => i == 0 || double.Parse(line.Split(',')[0], CultureInfo.InvariantCulture) <= 3000));
        var (code, output, error) = CliProcess.Run("fit", "--curves", whole, "--until-step", "3000", "--from-step", "100", "--out", Path("until.json"));
        Assert.True(code == 0, output + error);
        (code, output, error) = CliProcess.Run("fit", "--curves", cut, "--from-step", "100", "--out", Path("cut.json"));
        Assert.True(code == 0, output + error);
        Assert.Equal(FitResult.LoadParameters(Path("cut.json")).Parameters, FitResult.LoadParameters(Path("until.json")).Parameters);
        (code, output, error) = CliProcess.Run("fit", "--curves", whole, "--from-step", "100", "--out", Path("whole.json"));
        Assert.True(code == 0, output + error);
        Assert.NotEqual(FitResult.LoadParameters(Path("whole.json")).Parameters, FitResult.LoadParameters(Path("until.json")).Parameters);

        (code, _, error) = CliProcess.Run("fit", "--curves", whole, "--until-step", "50", "--from-step", "100", "--out", Path("never.json"));
        Assert.Equal(2, code);
        Assert.Contains("--until-step must be >= --from-step (100); got 50.", error);
        Assert.False(File.Exists(Path("never.json")));
    }

    [Fact]
    public void DecayFindsTheStartWithTheLowestPredictedFinalLoss()
    {
        string parameters = Parameters();
        string json = Path("decay.json");
        var (code, output, error) = CliProcess.Run("decay", "--params", parameters, "--total-steps", "8000", "--peak-lr", "3e-4", "--warmup", "300", "--json", json);
        Assert.True(code == 0, output + error);
        Assert.Contains("<- best", output);
        var root = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        var candidates = root.GetProperty("candidates").EnumerateArray().ToList();
        Assert.True(candidates.Count >= 40);
        long best = root.GetProperty("best_decay_start").GetInt64();
        double bestLoss = candidates.Single(c => c.GetProperty("decay_start").GetInt64() == best).GetProperty("final_loss").GetDouble();
        Assert.All(candidates, c => Assert.True(c.GetProperty("final_loss").GetDouble() >= bestLoss));
        double fixed20 = candidates.Single(c => c.GetProperty("decay_start").GetInt64() == 6400).GetProperty("final_loss").GetDouble();
        Assert.Equal(fixed20 - bestLoss, root.GetProperty("gain_over_fixed_20").GetDouble(), 12);
        Assert.All(candidates, c => Assert.True(c.GetProperty("lower").GetDouble() <= c.GetProperty("final_loss").GetDouble()));

        (code, _, error) = CliProcess.Run("decay", "--params", parameters, "--total-steps", "8000", "--peak-lr", "3e-4", "--shape", "sigmoid");
        Assert.Equal(2, code);
        Assert.Contains("Unknown decay shape", error);
    }

    [Fact]
    public void PlotDrawsTheLogsTheFitThePredictionAndTheDecayStartsAsSvg()
    {
        string parameters = Parameters();
        const string spec = "wsd:peak=3e-4,warmup=300,total=12000,decay=0.3,shape=1-sqrt";
        string plot = Path("plot.svg");
        var (code, output, error) = CliProcess.Run("plot", Path("constant.csv"), Path("wsd.csv"), "--params", parameters, "--schedule", spec, "--out", plot);
        Assert.True(code == 0, output + error);
        var svg = System.Xml.Linq.XDocument.Load(plot);
        var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        foreach (string entry in new[] { "constant", "wsd", "fit on constant", "fit on wsd", "shaded: 10–90% bands", "LR of wsd", "loss", "learning rate" })
        {
            Assert.Contains(entry, texts);
        }
        Assert.Contains(texts, t => t.StartsWith("predicted: wsd:peak=3e-4", StringComparison.Ordinal));
        // The decay starts: the logged WSD run's and the predicted schedule's (the constant run has none).
        long predictedStart = ((WsdSchedule)Schedule.Parse(spec)).DecayStartStep;
        Assert.Contains(texts, t => t == $"decay {predictedStart}" || t == $"decay {predictedStart + 1}");
        Assert.Equal(2, texts.Count(t => t.StartsWith("decay ", StringComparison.Ordinal)));

        // The forecasts a run made (TinyGpt's forecasts.jsonl), the last before 25/50/75% of the first log's run.
        string forecasts = Path("forecasts.jsonl");
        File.WriteAllLines(forecasts, [
            """{"step":999,"final_loss":3.5,"lower":3.0,"upper":4.0,"calibrated":false}""",
            """{"step":2999,"final_loss":3.3,"lower":3.2,"upper":3.4,"calibrated":true}""",
            """{"step":4999,"final_loss":3.31,"lower":3.25,"upper":3.37,"calibrated":true}"""]);
        string withForecasts = Path("forecasts.svg");
        (code, output, error) = CliProcess.Run("plot", Path("wsd.csv"), "--forecasts", forecasts, "--out", withForecasts);
        Assert.True(code == 0, output + error);
        var drawn = System.Xml.Linq.XDocument.Load(withForecasts).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        int total = File.ReadLines(Path("wsd.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).Max() + 1;
        string LastBefore(double fraction) => new[] { 999, 2999, 4999 }.Last(s => s < fraction * total).ToString(CultureInfo.InvariantCulture);
        Assert.Contains(drawn, t => t.StartsWith($"forecast at 50% (step {LastBefore(0.5)})", StringComparison.Ordinal));
        Assert.Contains("final loss reached", drawn);
        File.WriteAllText(forecasts, "{\"step\": 10}\n");
        (code, _, error) = CliProcess.Run("plot", Path("wsd.csv"), "--forecasts", forecasts, "--out", withForecasts);
        Assert.Equal(2, code);
        Assert.Contains("line 1", error);

        // A PNG (no native renderer in the tool) and a --schedule without --params: a message, exit 2, nothing written.
        string png = Path("plot.png");
        (code, _, error) = CliProcess.Run("plot", Path("wsd.csv"), "--out", png);
        Assert.Equal(2, code);
        Assert.Contains("SVG", error);
        (code, _, error) = CliProcess.Run("plot", Path("wsd.csv"), "--schedule", spec, "--out", Path("other.svg"));
        Assert.Equal(2, code);
        Assert.Contains("--schedule needs --params", error);
        Assert.False(File.Exists(png));
        Assert.False(File.Exists(Path("other.svg")));
    }

    [Fact]
    public void PlotMarksTheDecayStartOfWsdSchedulesOnly()
    {
        var wsd = Schedule.Parse("wsd:peak=1e-3,warmup=100,total=5000,decay=0.2,shape=linear");
        long? found = FslTorch.Cli.Commands.PlotCommand.DecayStart(wsd.Sample(5000));
        Assert.NotNull(found);
        Assert.InRange(found.Value, ((WsdSchedule)wsd).DecayStartStep, ((WsdSchedule)wsd).DecayStartStep + 1);
        Assert.Null(FslTorch.Cli.Commands.PlotCommand.DecayStart(Schedule.Parse("constant:peak=1e-3,warmup=100").Sample(5000)));
        Assert.Null(FslTorch.Cli.Commands.PlotCommand.DecayStart(Schedule.Parse("cosine:peak=1e-3,warmup=100,total=5000,final=0.1").Sample(5000)));
        // A constant run whose log writes a rate of 0 at its last step has no decay.
        var endsAtZero = Enumerable.Repeat(1e-3, 5000).Append(0.0).ToArray();
        Assert.Null(FslTorch.Cli.Commands.PlotCommand.DecayStart(endsAtZero));
    }

    [Fact]
    public void PlotLegendNamesLeaveOutWhatTheLogsShare()
    {
        Assert.Equal(["constant-lr1e-3", "wsd-lr1e-3"], FslTorch.Cli.Commands.PlotCommand.ShortNames(["runs-124M-constant-lr1e-3", "runs-124M-wsd-lr1e-3"]));
        Assert.Equal(["runs-124M-constant"], FslTorch.Cli.Commands.PlotCommand.ShortNames(["runs-124M-constant"]));
        Assert.Equal(["run", "run-2"], FslTorch.Cli.Commands.PlotCommand.ShortNames(["run", "run-2"])); // nothing vanishes
        Assert.Equal(40, FslTorch.Cli.Commands.PlotCommand.ShortNames([new string('x', 60)])[0].Length);
    }
}
