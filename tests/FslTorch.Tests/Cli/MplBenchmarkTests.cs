using FslTorch.Cli;
using FslTorch.Fitting;
using FslTorch.Surrogates;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Cli;

public sealed class MplBenchmarkTests
{
    [SharedDataFact]
    public void ThePublishedMultiPowerLawFitScoresThePublishedFigures()
    {
        var (fit, predict) = MplDataset.Load(SharedData.PathOf("mpl"), "25M");
        Assert.Equal(3, fit.Count);
        Assert.Equal(6, predict.Count);
        var runs = Protocol.Score(new MultiPowerLaw(), MultiPowerLaw.Published25M.ToArray(), fit, predict);
        var standard = CurveMetrics.Average(runs.Select(r => r.Standard));
        var strict = CurveMetrics.Average(runs.Select(r => r.Strict));
        // ../shared/data/README.md: R² 0.9988, PredE 0.00110, WorstE 0.00409, strict PredE 0.00164. (Its strict
        // WorstE, 0.00394, also counts cosine_72000's point at step 2160, where that run's LR still equals
        // cosine_24000's; the forecast segment here starts at 2161, the first step whose LR differs.)
        Assert.Equal(0.9988, standard.R2, 4);
        Assert.Equal(0.00110, standard.PredE, 5);
        Assert.InRange(standard.WorstE, 0.00405, 0.00415);
        Assert.Equal(0.00164, strict.PredE, 5);
    }

    [SharedDataFact]
    public void TheForecastSegmentStartsWhereNoFittedRunSharesTheHistory()
    {
        var (fit, predict) = MplDataset.Load(SharedData.PathOf("mpl"), "25M");
        int Start(string run) => Protocol.FirstForecastStep(predict.Single(c => c.Name == run), fit);
        Assert.Equal(24000, Start("constant_72000"));   // identical to constant_24000 until it ends
        Assert.Equal(20001, Start("wsd_20000_24000"));  // step 20000 still runs at the peak; 20001 is the first decayed step
        Assert.Equal(8000, Start("wsdcon_3"));          // shares wsdcon_9's history until 7999
        Assert.Equal(2161, Start("cosine_72000"));     // the two cosines part right after the warmup
    }

    [SharedDataFact]
    public void FslFitWithTheRunsSchedulesGivesTheBenchmarksFitAndPredictions()
    {
        // The MPL logs start at step 2160 and record the LR only there: `fsl fit` takes each run's per-step schedule
        // (warmup included) from --schedules, and then fits what `fsl bench mpl` fits.
        string folder = SharedData.PathOf("mpl");
        var manifest = File.ReadAllLines(Path.Combine(folder, "manifest.csv")).Skip(1).Select(l => l.Split(',')).Where(r => r[1] == "25M" && r[4] == "fit").ToList();
        string parameters = Path.Combine(Path.GetTempPath(), $"fsl-mpl-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, error) = CliProcess.Run(["fit", "--curves", .. manifest.Select(r => Path.Combine(folder, r[0])),
                "--schedules", .. manifest.Select(r => Path.Combine(folder, r[12])), "--out", parameters]);
            Assert.True(code == 0, output + error);
            var viaCli = FitResult.LoadParameters(parameters);
            var (fit, predict) = MplDataset.Load(folder, "25M");
            // Three runs of different schedules: fsl fit picks the law that fits the LR's exponent in the noise.
            Assert.Equal("fsl-direct-omega", viaCli.Law.Name);
            var direct = LawFitter.Fit(LossCurveLaws.ForRuns(fit), fit);
            Assert.True(direct.Succeeded, direct.Message);
            foreach (var run in predict)
            {
                var rates = run.Schedule.LearningRates.ToArray();
                var steps = run.Steps.ToArray();
                double cli = CurveMetrics.Compute(run.Losses, viaCli.Predict(rates, steps)).PredE;
                double bench = CurveMetrics.Compute(run.Losses, direct.Predict(rates, steps)).PredE;
                // The tool is compiled fully optimised, the tests tier by tier: the two fits agree to rounding.
                Assert.True(Math.Abs(cli - bench) <= 1e-5, $"{run.Name}: PredE {cli:F6} via fsl fit, {bench:F6} as bench mpl fits");
            }

            // Without the schedules the logs cannot give the LR of the steps before their first row.
            (code, _, error) = CliProcess.Run(["fit", "--curves", .. manifest.Select(r => Path.Combine(folder, r[0])), "--out", parameters + ".2"]);
            Assert.Equal(2, code);
            Assert.Contains("or give the schedule", error);
            // A schedule that disagrees with the LRs a log recorded (the constant run's for the cosine's log) is refused.
            var cosine = manifest.Single(r => r[2] == "cosine_24000");
            string constantSchedule = Path.Combine(folder, manifest.Single(r => r[2] == "constant_24000")[12]);
            (code, _, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, cosine[0]), "--schedules", constantSchedule, "--out", parameters + ".3");
            Assert.Equal(2, code);
            Assert.Contains("the schedule gives", error);
        }
        finally
        {
            File.Delete(parameters);
        }
    }

    [SharedDataFact]
    public void The100MRunsArePredictedFromThe25MShapeAndAShort100MStretch()
    {
        // Issue target: PredE <= 0.005 on every 100M predict run. The 25M fit alone cannot know the 100M level, and
        // the short stretch alone cannot know the shape; together they can.
        var output = new StringWriter();
        string json = Path.Combine(Path.GetTempPath(), $"fsl-transfer-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Equal(0, TransferBenchmark.Run(SharedData.PathOf("mpl"), "25M", "100M", 8000, 0.05, [LossCurveLaws.Default.Name], json, output));
            var table = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(json))!["tables"]![0]!["results"]!.AsArray();
            double Mean(int row) => (double)table[row]!["standard"]!["prede"]!;
            var perRun = table[0]!["per_run"]!.AsArray();
            Assert.Equal(6, perRun.Count);
            Assert.All(perRun, run => Assert.True((double)run!["standard"]!["prede"]! <= 0.005, run!.ToJsonString()));
            Assert.True(Mean(0) < Mean(1) / 3 && Mean(0) < Mean(2) / 10, output.ToString());
            Assert.True(Mean(0) < 2 * Mean(3), output.ToString()); // within 2x of fitting the 100M runs themselves
        }
        finally
        {
            File.Delete(json);
        }
    }

    [SharedDataFact]
    public void FslFitHoldsTheParametersItIsToldToWithAPriorFromAnotherFit()
    {
        string folder = SharedData.PathOf("mpl");
        string schedule = SharedData.PathOf("mpl", "schedules", "schedule-constant_24000.csv");
        string source = Path.Combine(Path.GetTempPath(), $"fsl-prior-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, "mpl-25M-constant_24000.csv"), "--schedules", schedule, "--out", source);
            Assert.True(code == 0, output + error);
            var prior = FitResult.LoadParameters(source).NamedParameters;
            (code, output, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, "mpl-100M-constant_24000.csv"), "--schedules", schedule,
                "--prior", source, "--prior-on", "s", "tau", "--prior-spread", "0.001", "--out", source + ".held");
            Assert.True(code == 0, output + error);
            (code, output, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, "mpl-100M-constant_24000.csv"), "--schedules", schedule, "--out", source + ".free");
            Assert.True(code == 0, output + error);
            var held = FitResult.LoadParameters(source + ".held").NamedParameters;
            var free = FitResult.LoadParameters(source + ".free").NamedParameters;
            foreach (var name in new[] { "s", "tau" })
            {
                Assert.True(Math.Abs(Math.Log(held[name] / prior[name])) < 0.005, $"{name}: held {held[name]}, prior {prior[name]}");
                Assert.True(Math.Abs(Math.Log(free[name] / prior[name])) > 0.02, $"{name}: the 100M run alone agrees with the 25M fit ({free[name]} vs {prior[name]}): nothing to hold");
            }
            (code, _, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, "mpl-100M-constant_24000.csv"), "--schedules", schedule,
                "--prior", source, "--prior-on", "gamma", "--out", source + ".bad");
            Assert.Equal(2, code);
            Assert.Contains("has no parameter gamma", error);
            (code, _, error) = CliProcess.Run("fit", "--curves", Path.Combine(folder, "mpl-100M-constant_24000.csv"), "--schedules", schedule,
                "--prior-on", "s", "--out", source + ".bad");
            Assert.Equal(2, code);
            Assert.Contains("--prior-on needs --prior", error);
        }
        finally
        {
            foreach (var suffix in new[] { "", ".held", ".free" }) File.Delete(source + suffix);
        }
    }
}
