using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FslTorch.Cli;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Cli;

public sealed class CurvesBenchmarkTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-curves-");

    public void Dispose() => _folder.Delete(recursive: true);

    // A momentum-law run in raw LR units, written as step,lr,loss (every `every`-th step, or every step).
    private string Write(string name, LearningRateSchedule schedule, int steps, int every)
    {
        var law = new MomentumLaw();
        double[] truth = [3.1, 20 * Math.Sqrt(3e-4), 0.5, 2e-4 / 3e-4];
        var sampled = schedule.SampleWithIntrinsicTime(steps);
        var at = Enumerable.Range(1, steps - 1).Where(k => k % every == 0).ToArray();
        var losses = law.Predict(truth, sampled, at);
        var text = new StringBuilder("step,lr,loss\n");
        text.Append(CultureInfo.InvariantCulture, $"0,{sampled.LearningRates[0]:R},\n");
        for (int i = 0; i < at.Length; i++) text.Append(CultureInfo.InvariantCulture, $"{at[i]},{sampled.LearningRates[at[i]]:R},{losses[i]:R}\n");
        string path = Path.Combine(_folder.FullName, name + ".csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    [Fact]
    public void FitsAndPredictsUserCurvesAndWritesTheDocumentedJson()
    {
        string constant = Write("constant", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 3000, 1);
        string cosine = Write("cosine", Schedule.WarmupCosine(3e-4, 100, 3000, DecayTarget.FractionOfPeak(0.1)), 3000, 1);
        string wsd = Write("wsd", Schedule.Wsd(3e-4, 100, 2000, 3000), 3000, 25); // sparse: LR interpolated between rows
        string json = Path.Combine(_folder.FullName, "out", "result.json");

        var (code, output, error) = CliProcess.Run("bench", "curves", "--fit", constant, cosine, "--predict", wsd,
            "--from-step", "200", "--bin", "10", "--law", "momentum", "fsl", "--json", json);
        Assert.True(code == 0, error);
        Assert.Contains("momentum", output);

        var root = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        Assert.Equal("curves", (string?)root["dataset"]);
        var results = root["results"]!.AsArray();
        Assert.Equal(["momentum", "fsl"], results.Select(r => (string?)r!["law"]));
        foreach (var result in results.Select(r => r!.AsObject()))
        {
            Assert.Equal(["law", "fit_seconds", "fit_exit", "fit_message", "parameters", "standard", "strict", "per_run"], result.Select(p => p.Key));
            Assert.Contains((string?)result["fit_exit"], new[] { "Converged", "IterationLimit" });
            Assert.True((double)result["fit_seconds"]! > 0);
            foreach (var scores in new[] { result["standard"]!, result["strict"]! })
            {
                Assert.Equal(["r2", "mae", "rmse", "prede", "worste"], scores.AsObject().Select(p => p.Key));
            }
            var run = result["per_run"]!.AsArray().Single()!;
            Assert.Equal("wsd", (string?)run["run"]);
        }
        // Noiseless momentum-law curves: the momentum law forecasts the WSD run almost exactly.
        Assert.True((double)results[0]!["standard"]!["prede"]! < 1e-3);
        Assert.Equal(4, results[0]!["parameters"]!.AsObject().Count);
    }

    [Fact]
    public void DropLastLeavesOutAFinalEvaluationRowAndScoresAsIfTheLogHadNone()
    {
        string constant = Write("constant", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 3000, 10);
        string wsd = Write("wsd", Schedule.Wsd(3e-4, 100, 2000, 3000), 3000, 10);
        // The same logs ending with a separate evaluation at the last step, 0.036 above the trend (as the 124M grid's do).
        string WithFinalRow(string path)
        {
            var last = File.ReadLines(path).Last().Split(',');
            double loss = double.Parse(last[2], CultureInfo.InvariantCulture) + 0.036;
            string copy = Path.Combine(_folder.FullName, Path.GetFileNameWithoutExtension(path) + "-final.csv");
            File.WriteAllText(copy, File.ReadAllText(path) + string.Create(CultureInfo.InvariantCulture, $"3000,{last[1]},{loss:R}\n"));
            return copy;
        }
        string constantFinal = WithFinalRow(constant), wsdFinal = WithFinalRow(wsd);
        JsonNode Scores(string name, params string[] extra)
        {
            string json = Path.Combine(_folder.FullName, name + ".json");
            var (code, _, error) = CliProcess.Run(["bench", "curves", "--fit", extra[0], "--predict", extra[1], "--law", "momentum", "--json", json, .. extra[2..]]);
            Assert.True(code == 0, error);
            return JsonNode.Parse(File.ReadAllText(json))!["results"]![0]!["strict"]!;
        }
        var clean = Scores("clean", constant, wsd);
        var dropped = Scores("dropped", constantFinal, wsdFinal, "--drop-last", "1");
        var kept = Scores("kept", constantFinal, wsdFinal);
        Assert.Equal((double)clean["prede"]!, (double)dropped["prede"]!, 12);
        Assert.Equal((double)clean["worste"]!, (double)dropped["worste"]!, 12);
        Assert.True((double)kept["worste"]! > 0.005, $"the final row should dominate the worst error when kept ({kept["worste"]})");

        var (refused, _, message) = CliProcess.Run("bench", "curves", "--fit", constant, "--predict", wsd, "--drop-last", "100000");
        Assert.Equal(2, refused);
        Assert.Contains("--drop-last 100000 leaves none of its", message);
    }

    [Fact]
    public void FitWritesAParameterFileThatBecomesAPrior()
    {
        string constant = Write("constant", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 3000, 1);
        string wsd = Write("wsd", Schedule.Wsd(3e-4, 100, 2000, 3000), 3000, 1);
        string output = Path.Combine(_folder.FullName, "prior.json");
        var (code, stdout, error) = CliProcess.Run("fit", "--curves", constant, wsd, "--law", "momentum", "--from-step", "200", "--out", output);
        Assert.True(code == 0, error);
        Assert.Contains("momentum", stdout);
        var prior = ParameterPrior.FromFile(output, new MomentumLaw(), 0.1);
        Assert.Equal(4, prior.Mean.Count);
        Assert.InRange(prior.Mean[0], 3.0, 3.2); // L0 of the generating law is 3.1
    }

    [Fact]
    public void FitPicksTheLawForTheRunsItIsGivenUnlessTold()
    {
        string constant = Write("constant", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 3000, 10);
        string wsd = Write("wsd", Schedule.Wsd(3e-4, 100, 2000, 3000), 3000, 10);
        string Fit(params string[] arguments)
        {
            string output = Path.Combine(_folder.FullName, $"fit{Guid.NewGuid():N}.json");
            var (code, _, error) = CliProcess.Run(["fit", "--from-step", "200", "--out", output, .. arguments]);
            Assert.True(code == 0, error);
            return FitResult.LoadParameters(output).Law.Name;
        }
        // Two schedules: the LR's exponent in the noise is fitted; one schedule (or two logs of it): the default law.
        Assert.Equal("fsl-direct-omega", Fit("--curves", constant, wsd));
        Assert.Equal("fsl-direct", Fit("--curves", constant));
        Assert.Equal("fsl-direct", Fit("--curves", constant, Write("constant-again", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 2000, 10)));
        Assert.Equal("momentum", Fit("--curves", constant, wsd, "--law", "momentum"));
        // With a prior the fit is of the prior's law, whatever the runs.
        string prior = Path.Combine(_folder.FullName, "prior.json");
        Assert.Equal(0, CliProcess.Run("fit", "--curves", constant, "--from-step", "200", "--out", prior).ExitCode);
        Assert.Equal("fsl-direct", Fit("--curves", constant, wsd, "--prior", prior));
    }

    [Fact]
    public void TheBenchmarksAutoLawIsTheLawItPicksFittedOnce()
    {
        string constant = Write("constant", Schedule.WithWarmup(Schedule.Constant(3e-4), 100), 3000, 10);
        string cosine = Write("cosine", Schedule.WarmupCosine(3e-4, 100, 3000, DecayTarget.FractionOfPeak(0.1)), 3000, 10);
        string wsd = Write("wsd", Schedule.Wsd(3e-4, 100, 2000, 3000), 3000, 10);
        string json = Path.Combine(_folder.FullName, "auto.json");
        var (code, _, error) = CliProcess.Run("bench", "curves", "--fit", constant, cosine, "--predict", wsd, "--from-step", "200",
            "--law", "auto", "fsl-direct-omega", "--json", json);
        Assert.True(code == 0, error);
        var results = JsonNode.Parse(File.ReadAllText(json))!["results"]!.AsArray();
        Assert.Equal(["auto (fsl-direct-omega)", "fsl-direct-omega"], results.Select(r => (string?)r!["law"]));
        Assert.Equal(results[0]!["parameters"]!.ToJsonString(), results[1]!["parameters"]!.ToJsonString());
        Assert.Equal((double)results[0]!["fit_seconds"]!, (double)results[1]!["fit_seconds"]!);
    }

    [Fact]
    public void BadInputGivesAMessageAndExitCodeTwo()
    {
        var (code, _, error) = CliProcess.Run("bench", "curves", "--fit", Path.Combine(_folder.FullName, "missing.csv"), "--predict", "x.csv");
        Assert.Equal(2, code);
        Assert.Contains("no such file", error);
        Assert.DoesNotContain("   at ", error); // no stack trace

        string curve = Write("c", Schedule.Constant(1e-4), 500, 1);
        (code, _, error) = CliProcess.Run("bench", "curves", "--fit", curve, "--predict", curve, "--law", "nonsense");
        Assert.Equal(2, code);
        Assert.Contains("Unknown law", error);
    }

    [Fact]
    public void ASweepReplayWithAnUnknownLawOrParameterIsRefusedBeforeAnyWork()
    {
        // The law is checked before the data folder is read: no such folder here, and the law is what is reported.
        string missing = Path.Combine(_folder.FullName, "no-data");
        var (code, _, error) = CliProcess.Run("bench", "sweep", "--data", missing, "--law", "nonsense");
        Assert.Equal(2, code);
        Assert.Contains("Unknown law", error);
        // A prior parameter is checked against the law given: omega exists only in fsl-direct-omega.
        (code, _, error) = CliProcess.Run("bench", "sweep", "--data", missing, "--prior-on", "omega");
        Assert.Equal(2, code);
        Assert.Contains("omega", error);
        (code, _, error) = CliProcess.Run("bench", "sweep", "--data", missing, "--law", "fsl-direct-omega", "--prior-on", "omega");
        Assert.Equal(2, code);
        Assert.DoesNotContain("omega", error);
    }

    [Fact]
    public void ASideBySideSweepReplayRefusesTheSequentialSweepsOptionsBeforeAnyWork()
    {
        string missing = Path.Combine(_folder.FullName, "no-data");
        foreach (var (extra, message) in new (string[], string)[]
                 {
                     (["--side-by-side", "--order", "ascending"], "--order does not go with --side-by-side"),
                     (["--side-by-side", "--no-widen"], "--no-widen does not go with --side-by-side"),
                     (["--side-by-side", "--check-every", "0"], "--check-every must be in (0, 0.5]"),
                     (["--check-every", "0.1"], "--check-every goes with --side-by-side"),
                     (["--probes"], "--probes goes with --side-by-side"),
                 })
        {
            var (code, _, error) = CliProcess.Run(["bench", "sweep", "--data", missing, .. extra]);
            Assert.Equal(2, code);
            Assert.Contains(message, error);
        }
    }

    [Fact]
    public void BinningAveragesEachWindowAtItsMeanStep()
    {
        var schedule = Schedule.Constant(1).SampleWithIntrinsicTime(40);
        var curve = new ObservedCurve("raw", schedule, Enumerable.Range(1, 39).ToArray(), Enumerable.Range(1, 39).Select(k => (double)k).ToArray());
        var binned = CurveFiles.Bin(curve, 10);
        Assert.Equal([5, 14, 24, 34], binned.Steps); // windows 1..9, 10..19, 20..29, 30..39 (means 5, 14.5→14, 24.5→24, 34.5→34)
        Assert.Equal([5, 14.5, 24.5, 34.5], binned.Losses);
    }
}
