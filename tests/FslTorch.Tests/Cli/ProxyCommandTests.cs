using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Tests.Fitting;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary><c>fsl proxy fit</c> end to end on proxy runs of four sizes the test writes.</summary>
public sealed class ProxyCommandTests : IDisposable
{
    private const double P = SyntheticCurves.Peak;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-proxy-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_folder.FullName, name);

    // The direct FSL with L0(N) = 2 + 1.1·(N/3.2e7)^(−0.3) and A(N) = 4·(N/3.2e7)^(−0.15).
    private static double[] Truth(double size) =>
        [2 + 1.1 * Math.Pow(size / 3.2e7, -0.3), 4 * Math.Pow(size / 3.2e7, -0.15), 2e-4 / (P * P), 300 * P, 0.5, 2.0, 2e-4 / (P * P)];

    private (string[] Files, string[] Sizes) Runs(double[] sizes) =>
        (sizes.SelectMany((size, i) => new[] { "constant", "wsd" }.Select((schedule, k) => SyntheticCurves.WriteCsv(
            SyntheticCurves.Generate(new FslDirectLaw(), Truth(size), schedule, noise: 0.002, seed: 10 * i + k), Path($"{schedule}-{i}.csv")))).ToArray(),
         sizes.SelectMany(size => new[] { size, size }).Select(s => s.ToString("R", CultureInfo.InvariantCulture)).ToArray());

    [Fact]
    public void FitsTheSizesAndWritesTheLargerSizesParametersWithTheFinalLossAndItsBand()
    {
        var (files, sizes) = Runs([1e6, 2e6, 4e6, 8e6]);
        const string spec = "wsd:peak=3e-4,warmup=300,total=6000,decay=0.25";
        string parameters = Path("big.json");
        var (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--sizes", .. sizes, "--predict-size", "3.2e7", "--schedule", spec, "--out", parameters]);
        Assert.True(code == 0, output + error);
        Assert.Contains("8 runs of 4 sizes", output);
        Assert.Contains("L0(N) = ", output);
        var line = output.Split("\n").Single(l => l.Contains(": final loss at step", StringComparison.Ordinal));
        var numbers = System.Text.RegularExpressions.Regex.Matches(line[line.IndexOf("final loss", StringComparison.Ordinal)..], @"\d+\.\d{4}").Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToArray();
        double truth = new FslDirectLaw().Predict(Truth(3.2e7), Schedule.Parse(spec).SampleWithIntrinsicTime(6000), [5999])[0];
        Assert.InRange(numbers[0] - truth, -0.03, 0.03);
        Assert.True(numbers[1] <= numbers[0] && numbers[0] <= numbers[2] && numbers[2] > numbers[1], line);
        // The held-out check (the 8e6 runs predicted from the rest) gives a band around the same prediction that holds the truth.
        var held = output.Split("\n").Single(l => l.Contains("held out, the largest proxy", StringComparison.Ordinal));
        var edges = System.Text.RegularExpressions.Regex.Matches(held[held.LastIndexOf('[')..], @"\d+\.\d{4}").Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(numbers[0] - edges[0], edges[1] - numbers[0], 3);
        Assert.InRange(truth, edges[0] - 0.002, edges[1] + 0.002);

        // The parameter file predicts like the line says and feeds the other commands.
        var fit = FitResult.LoadParameters(parameters);
        Assert.Equal(numbers[0], fit.Predict(Schedule.Parse(spec).Sample(6000), [5999], fast: true)[0], 3);
        var (decayCode, decayOutput, decayError) = CliProcess.Run("decay", "--params", parameters, "--total-steps", "6000", "--peak-lr", "3e-4", "--warmup", "300");
        Assert.True(decayCode == 0, decayOutput + decayError);
        Assert.Contains("best: decay from step", decayOutput);
    }

    [Fact]
    public void InconsistentInputsAreRefusedBeforeAnyFit()
    {
        var (files, sizes) = Runs([1e6, 2e6, 4e6]);
        var (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--sizes", .. sizes[..^1]]);
        Assert.Equal(2, code);
        Assert.Contains("--sizes: give one per log (6); got 5", output + error);
        (code, output, error) = CliProcess.Run(["proxy", "fit", .. files[..4], "--sizes", .. sizes[..4]]);
        Assert.Equal(2, code);
        Assert.Contains("at least 3 model sizes", output + error);
        (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--sizes", .. sizes, "--schedule", "wsd:peak=3e-4,total=6000"]);
        Assert.Equal(2, code);
        Assert.Contains("--schedule needs --predict-size", output + error);
    }

    [Fact]
    public void SizesFromAManifestAndTheLargerSizesBestDecayStartForABudget()
    {
        var (files, sizes) = Runs([1e6, 2e6, 4e6, 8e6]);
        // The manifest names each log relative to its own folder, with its size.
        string manifest = Path("runs.csv");
        File.WriteAllLines(manifest, ["file,size", .. files.Select((f, i) => $"{System.IO.Path.GetFileName(f)},{sizes[i]}")]);
        var (code, output, error) = CliProcess.Run("proxy", "fit", "--manifest", manifest, "--predict-size", "3.2e7", "--total-steps", "6000", "--peak-lr", "3e-4", "--warmup", "300");
        Assert.True(code == 0, output + error);
        Assert.Contains("8 runs of 4 sizes", output);
        // The candidates' table of fsl decay for the predicted size, then that run's final loss with the held-out band.
        var best = output.Split("\n").Single(l => l.StartsWith("best: decay from step", StringComparison.Ordinal));
        long start = long.Parse(System.Text.RegularExpressions.Regex.Match(best, @"step (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var law = new FslDirectLaw();
        double Final(long decayStart) => law.Predict(Truth(3.2e7), new WsdSchedule(3e-4, 300, decayStart, 6000).SampleWithIntrinsicTime(6000), [5999])[0];
        // The start it finds ends within 0.002 of the truth's best start (a grid of starts, as fsl decay tries them), and
        // the loss it predicts for that run within 0.03 of the truth.
        double bestTrue = Enumerable.Range(0, 48).Select(i => 600 + (long)Math.Round((5700.0 - 600) * i / 47)).Min(Final);
        Assert.InRange(Final(start) - bestTrue, 0, 0.002);
        var line = output.Split("\n").Single(l => l.Contains(": final loss at step 5999", StringComparison.Ordinal));
        double predicted = double.Parse(System.Text.RegularExpressions.Regex.Match(line, @"step 5999 (\d+\.\d{4})").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(predicted - Final(start), -0.03, 0.03);
        Assert.Contains("held out, the largest proxy", output);
    }

    [Fact]
    public void AManifestAndThePeakLrAreCheckedBeforeAnyFit()
    {
        var (files, sizes) = Runs([1e6, 2e6, 4e6]);
        string manifest = Path("runs.csv");
        File.WriteAllLines(manifest, ["file,parameters", .. files.Select((f, i) => $"{System.IO.Path.GetFileName(f)},{sizes[i]}")]);
        var (code, output, error) = CliProcess.Run("proxy", "fit", "--manifest", manifest);
        Assert.Equal(2, code);
        Assert.Contains("its header needs the columns file and size", output + error);
        File.WriteAllLines(manifest, ["file,size", .. files.Select((f, i) => $"{System.IO.Path.GetFileName(f)},{(i == 2 ? "big" : sizes[i])}")]);
        (code, output, error) = CliProcess.Run("proxy", "fit", "--manifest", manifest);
        Assert.Equal(2, code);
        Assert.Contains("line 4: the size 'big' is not a positive number", output + error);
        (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--manifest", manifest]);
        Assert.Equal(2, code);
        Assert.Contains("give it instead of the logs", output + error);
        (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--sizes", .. sizes, "--predict-size", "3.2e7", "--peak-lr", "3e-4"]);
        Assert.Equal(2, code);
        Assert.Contains("--peak-lr needs --predict-size and --total-steps", output + error);
        (code, output, error) = CliProcess.Run(["proxy", "fit", .. files, "--sizes", .. sizes, "--predict-size", "3.2e7", "--total-steps", "6000", "--peak-lr", "3e-4",
            "--schedule", "wsd:peak=3e-4,total=6000"]);
        Assert.Equal(2, code);
        Assert.Contains("Give --schedule", output + error);
        (code, output, error) = CliProcess.Run("proxy", "fit");
        Assert.Equal(2, code);
        Assert.Contains("Give the proxy runs' logs", output + error);
    }
}
