using System.Globalization;
using System.Text.Json;
using FslTorch.Surrogates;
using FslTorch.Tests.Fitting;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary>The same curve as step,lr,loss CSV, JSON Lines, trainer_state.json and TensorBoard events: the same fit.</summary>
public sealed class LogFormatTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-formats-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_folder.FullName, name);

    // The direct FSL's WSD curve (raw units), every step logged with its LR and a loss every 10 steps (after the warmup).
    private static (double[] Rates, Dictionary<int, double> Losses) Curve()
    {
        const double p = SyntheticCurves.Peak;
        double[] raw = [3.1, 4.0, 2e-4 / (p * p), 300 * p, 0.5, 2.0, 2e-4 / (p * p)];
        var curve = SyntheticCurves.Generate(new FslDirectLaw(), raw, "wsd", noise: 0.002, seed: 4);
        return (curve.Schedule.LearningRates[..(curve.Steps[^1] + 1)].ToArray(),
            curve.Steps.Select((k, i) => (k, i)).Where(x => x.k % 10 == 0 || x.k == curve.Steps[^1]).ToDictionary(x => x.k, x => curve.Losses[x.i]));
    }

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    // The fitted curve of `fsl fit` on the given log, at a few steps of the run's own schedule.
    private double[] Fit(double[] rates, params string[] arguments)
    {
        string output = Path($"params-{Guid.NewGuid():N}.json");
        var (code, stdout, error) = CliProcess.Run(["fit", .. arguments, "--out", output]);
        Assert.True(code == 0, stdout + error);
        return FslTorch.Fitting.FitResult.LoadParameters(output).Predict(rates, [400, 1500, 3000, 4500, rates.Length - 1]);
    }

    private static void Close(double[] expected, double[] actual, double relative)
    {
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], expected[i] * relative);
    }

    [Fact]
    public void EveryFormatGivesTheFitOfTheCsv()
    {
        var (rates, losses) = Curve();
        string csv = Path("run.csv");
        File.WriteAllLines(csv, ["step,lr,loss", .. rates.Select((r, k) => $"{k},{R(r)},{(losses.TryGetValue(k, out double l) ? R(l) : "")}")]);
        var expected = Fit(rates, "--curves", csv);

        // JSON Lines with other field names, an evaluation record without a step, and Python's bare NaN.
        string jsonl = Path("run.jsonl");
        File.WriteAllLines(jsonl, [.. rates.Select((r, k) => losses.TryGetValue(k, out double l)
            ? $"{{\"iter\": {k}, \"lr\": {R(r)}, \"train_loss\": {R(l)}}}"
            : $"{{\"iter\": {k}, \"lr\": {R(r)}, \"train_loss\": NaN}}"), "{\"eval_loss\": 3.0}"]);
        Assert.Equal(expected, Fit(rates, "--curves", jsonl, "--step-field", "iter", "--loss-field", "train_loss"));

        // trainer_state.json: an entry every 10 steps from step 10 (the Trainer's logging_steps), the loss NaN where this
        // synthetic run has none (Python writes it bare); evaluation entries without a loss are skipped.
        var history = Enumerable.Range(1, (rates.Length - 1) / 10).Select(i => 10 * i)
            .Select(k => $"{{\"step\": {k}, \"epoch\": 0.1, \"learning_rate\": {R(rates[k])}, \"loss\": {(losses.TryGetValue(k, out double l) ? R(l) : "NaN")}}}")
            .Append("{\"step\": 100, \"eval_loss\": 3.0}");
        string state = Path("trainer_state.json");
        File.WriteAllText(state, $"{{\"global_step\": {rates.Length}, \"log_history\": [{string.Join(", ", history)}]}}");
        var fromState = Fit(rates, "--curves", state);
        // The LR is interpolated between the logged steps (exact: the schedule is piecewise linear with breaks on
        // multiples of 10) and held at step 10's value before it, so the fit agrees closely, not exactly.
        Close(expected, fromState, 0.002);

        // TensorBoard events written by TorchSharp's SummaryWriter, as a folder.
        string events = Path("tb");
        var writer = TorchSharp.torch.utils.tensorboard.SummaryWriter(events);
        for (int k = 0; k < rates.Length; k++)
        {
            writer.add_scalar("lr", (float)rates[k], k);
            if (losses.TryGetValue(k, out double l)) writer.add_scalar("loss/train", (float)l, k);
        }
        var fromEvents = Fit(rates, "--curves", events, "--loss-tag", "loss/train", "--lr-tag", "lr");
        Close(expected, fromEvents, 0.002); // event files hold single-precision values
    }

    [Fact]
    public void AGrowingLogIsReadWithoutItsUnfinishedLastLine()
    {
        // What fsl watch reads: JSON Lines and CSV alike leave a line without its newline for the next read.
        string jsonl = Path("growing.jsonl");
        File.WriteAllText(jsonl, "{\"step\": 0, \"lr\": 1e-3, \"loss\": 3.0}\n{\"step\": 1, \"lr\": 1e-3, \"loss\": 2.9}\n{\"step\": 2, \"lr\": 1e-3, \"loss\": 2.");
        Assert.Equal([0L, 1L], FslTorch.Cli.LogFormats.Default.FollowRows(jsonl).Select(r => r.Step));
        string csv = Path("growing.csv");
        File.WriteAllText(csv, "step,lr,loss\n0,1e-3,3.0\n1,1e-3,2.9\n2,1e-3,2.");
        Assert.Equal([0L, 1L], FslTorch.Cli.LogFormats.Default.FollowRows(csv).Select(r => r.Step));
        File.AppendAllText(csv, "85\n");
        Assert.Equal(2.85, FslTorch.Cli.LogFormats.Default.FollowRows(csv)[^1].Loss);
        // The Trainer rewrites trainer_state.json whole: a read that catches it half written has no rows yet; a whole
        // file that is not a trainer state is refused.
        string state = Path("trainer_state.json");
        File.WriteAllText(state, "{\"log_history\": [{\"step\": 10, \"learning_rate\": 1e-3, \"loss\": 2.9}, {\"step\": 20, \"lea");
        Assert.Empty(FslTorch.Cli.LogFormats.Default.FollowRows(state));
        File.WriteAllText(state, "{\"log_history\": [{\"step\": 10, \"learning_rate\": 1e-3, \"loss\": 2.9}]}");
        Assert.Equal([10L], FslTorch.Cli.LogFormats.Default.FollowRows(state).Select(r => r.Step));
        File.WriteAllText(state, "{}");
        Assert.Contains("no log_history array", Assert.Throws<InvalidDataException>(() => FslTorch.Cli.LogFormats.Default.FollowRows(state)).Message);
    }

    [Fact]
    public void BadLogsGetAMessageNamingThePlace()
    {
        string garbage = Path("bad.jsonl");
        File.WriteAllLines(garbage, ["{\"step\": 0, \"lr\": 1e-3, \"loss\": 3.0}", "not json", "{\"step\": 2, \"lr\": 1e-3, \"loss\": 2.9}"]);
        string empty = Directory.CreateDirectory(Path("no-events")).FullName;
        string wrongState = Path("state.json");
        File.WriteAllText(wrongState, "{\"global_step\": 3}");
        string events = Path("tb");
        var writer = TorchSharp.torch.utils.tensorboard.SummaryWriter(events);
        writer.add_scalar("loss", 3f, 0);
        foreach (var (arguments, message) in new (string[], string)[]
        {
            (["--curves", garbage], "bad.jsonl, line 2: not JSON"),
            (["--curves", empty], "no TensorBoard event files"),
            (["--curves", wrongState], "no log_history array"),
            (["--curves", events], "no scalar tagged 'train/loss' (tags: loss)"),
            (["--curves", garbage, "--format", "xml"], "--format xml: expected"),
        })
        {
            var (code, output, error) = CliProcess.Run(["fit", .. arguments, "--out", Path("p.json")]);
            Assert.Equal(2, code);
            Assert.Contains(message, error);
            Assert.DoesNotContain("   at ", output + error);
        }
    }
}
