using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FslTorch.Cli;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Cli;

/// <summary>
/// The benchmarks on data laid out as the shared data is but not the same: a grid that is not the 124M one (other peak
/// LRs, budgets, cooldown fractions, warmup and logging interval, a diverged run and a run of a schedule the grid does not
/// know), and curves in the MPL paper's layout at other model sizes. Everything is read from the manifests.
/// </summary>
public sealed class DataLayoutTests : IDisposable
{
    private static readonly double[] Peaks = [3e-4, 1.2e-3];
    private static readonly int[] Budgets = [4000, 8000, 12000];
    private static readonly double[] Cooldowns = [0.1, 0.2, 0.5];
    private const int Warmup = 100, Every = 100;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-layout-");

    public void Dispose() => _folder.Delete(recursive: true);

    // The direct FSL with the parameters of a fit to the 124M grid's calibration runs at 1e-3, in raw LR units.
    private static readonly double[] Truth = [2.6, 8.1, 1.5e-5 / 1e-6, 8.8 * 1e-3, 0.43, 1.1, 0.0057 / 1e-6];

    // A grid folder in the manifest layout of schaipp-124m/. Every run at a peak draws the same noise at the same step, so
    // the WSD runs branch from the constant run as the real grid's do.
    private string WriteGrid(string name, string model = "test-model")
    {
        string folder = Path.Combine(_folder.FullName, name);
        Directory.CreateDirectory(folder);
        var manifest = new StringBuilder("file,schedule,base_lr,iterations,warmup,cooldown_frac,cos_final_lr,final_val_loss,model,dataset\n");
        void Run(string schedule, double peak, int total, double cooldown, Func<int, double, double>? lossAt = null)
        {
            string file = string.Create(CultureInfo.InvariantCulture, $"{schedule}-lr{peak}-T{total}.csv");
            var rates = schedule == "rsqrt"
                ? Enumerable.Range(0, total + 1).Select(k => peak / Math.Sqrt(1 + k)).ToArray()
                : SchaippDataset.Rebuild(schedule, peak, total, Warmup, cooldown, "1e-07").Sample(total + 1);
            var sampled = new FslTorch.Schedules.SampledSchedule(rates);
            var steps = Enumerable.Range(1, total / Every).Select(i => Math.Min(i * Every, total)).ToArray();
            var clean = new FslDirectLaw().Predict(Truth, sampled, steps);
            var text = new StringBuilder("step,lr,loss\n");
            double last = 0;
            for (int i = 0; i < steps.Length; i++)
            {
                var noise = new Random(HashCode.Combine(peak, steps[i]));
                last = lossAt?.Invoke(steps[i], clean[i]) ?? clean[i] * (1 + 0.002 * Fitting.SyntheticCurves.Gaussian(noise));
                text.Append(CultureInfo.InvariantCulture, $"{steps[i]},{rates[steps[i]]:R},{last:R}\n");
            }
            File.WriteAllText(Path.Combine(folder, file), text.ToString());
            manifest.Append(CultureInfo.InvariantCulture, $"{file},{schedule},{peak},{total},{Warmup},{cooldown},{(schedule.StartsWith("cosine-final", StringComparison.Ordinal) ? "1e-07" : "")},{last:R},{model},synthetic\n");
        }
        foreach (double peak in Peaks)
        {
            Run("constant", peak, Budgets[^1], 0);
            foreach (int total in Budgets)
            {
                foreach (double cooldown in Cooldowns) Run(string.Create(CultureInfo.InvariantCulture, $"wsd-linear-cd{cooldown}"), peak, total, cooldown);
                Run("cosine-to10pct", peak, total, 0);
            }
        }
        Run("cosine-final1e-07", 5e-3, Budgets[^1], 0, lossAt: (step, _) => 3 + step / 1000.0); // diverged: its loss climbs to 15
        Run("rsqrt", 3e-4, Budgets[0], 0); // a schedule the grid does not know
        manifest.Append("a-row-cut-short.csv,constant\n");
        File.WriteAllText(Path.Combine(folder, "manifest.csv"), manifest.ToString());
        return folder;
    }

    [Fact]
    public void AnotherGridLoadsWithoutItsDivergedAndUnknownRunsAndGivesTheProtocolsItHasRunsFor()
    {
        string grid = WriteGrid("grid");
        var notes = new StringWriter();
        var runs = SchaippDataset.Load(grid, notes);
        int perPeak = 1 + Budgets.Length * (Cooldowns.Length + 1);
        Assert.Equal(Peaks.Length * perPeak, runs.Count);
        Assert.Contains("left out cosine-final1e-07-lr0.005-T12000.csv: its loss ends at", notes.ToString());
        Assert.Contains("(diverged)", notes.ToString());
        Assert.Contains("left out rsqrt-lr0.0003-T4000.csv: its schedule 'rsqrt' is none of the grid's kinds", notes.ToString());
        Assert.Matches(@"left out line \d+ of .*manifest.csv: 2 cells, where the header has 10", notes.ToString());
        Assert.Equal(Peaks, SchaippDataset.Peaks(runs));

        // Fitted: the constant run, the shortest 20% cooldown and the shortest cosine; predicted: every other run of the peak.
        var (fit, predict) = SchaippDataset.SchedulesProtocol(runs, 1.2e-3);
        Assert.Equal(["constant-lr0.0012-T12000", "wsd-linear-cd0.2-lr0.0012-T4000", "cosine-to10pct-lr0.0012-T4000"], fit.Select(c => c.Name));
        Assert.Equal(perPeak - 3, predict.Count);
        var (_, horizon) = SchaippDataset.HorizonProtocol(runs, 3e-4);
        Assert.Equal(["wsd-linear-cd0.2-lr0.0003-T8000", "wsd-linear-cd0.2-lr0.0003-T12000"], horizon.Select(c => c.Name));

        // The issue's protocol on the command line, at one peak of this grid.
        var (code, printed, error) = CliProcess.Run("bench", "horizon", "--data", grid, "--peak-lr", "3e-4", "--law", "fsl-direct");
        Assert.True(code == 0, printed + error);
        Assert.Contains("predict: wsd-linear-cd0.2-lr0.0003-T8000, wsd-linear-cd0.2-lr0.0003-T12000", printed);
        Assert.Contains("left out rsqrt-lr0.0003-T4000.csv", printed);

        var output = new StringWriter();
        var protocols = AllBenchmark.Protocols(_folder.FullName, output);
        Assert.Equal(["schedules-0.0003", "horizon-0.0003", "schedules-0.0012", "horizon-0.0012"], protocols.Select(p => p.Name));
        Assert.Contains("holds curves in the MPL paper's layout", output.ToString()); // no mpl/ here
        // The grid's own folder is that grid; with two grids, each protocol says which.
        Assert.Equal(4, AllBenchmark.Protocols(grid, TextWriter.Null).Count);
        WriteGrid("other");
        Assert.Equal(["grid/schedules-0.0003", "grid/horizon-0.0003", "grid/schedules-0.0012", "grid/horizon-0.0012",
            "other/schedules-0.0003", "other/horizon-0.0003", "other/schedules-0.0012", "other/horizon-0.0012"],
            AllBenchmark.Protocols(_folder.FullName, TextWriter.Null).Select(p => p.Name));
    }

    [Fact]
    public void AGridThatMixesModelsIsRefusedWithTheGroupsItHolds()
    {
        string grid = WriteGrid("mixed");
        string manifest = Path.Combine(grid, "manifest.csv");
        var lines = File.ReadAllLines(manifest);
        lines[1] = lines[1].Replace("test-model", "other-model", StringComparison.Ordinal);
        File.WriteAllLines(manifest, lines);
        var refusal = Assert.Throws<InvalidDataException>(() => SchaippDataset.Load(grid));
        Assert.Contains("mixes 2 models or data sets", refusal.Message);
        Assert.Contains("other-model synthetic", refusal.Message);
    }

    [Fact]
    public void TheDecayBenchmarkScoresAFractionBetweenTwoGridRunsOnTheLineBetweenThem()
    {
        static SchaippRun Run(double fraction, double loss) => new("run.csv", "wsd-linear", 1e-3, 1000, 10, fraction, loss, null!, null!, null!);
        var grid = new SortedDictionary<double, SchaippRun> { [0.2] = Run(0.2, 3.10), [0.4] = Run(0.4, 3.00), [0.6] = Run(0.6, 3.04) };
        Assert.Equal(3.05, DecayBenchmark.Interpolated(grid, 0.3), 12);
        Assert.Equal(3.02, DecayBenchmark.Interpolated(grid, 0.5), 12);
        Assert.Equal(3.00, DecayBenchmark.Interpolated(grid, 0.4), 12);
        // Outside the grid: the nearest run's.
        Assert.Equal(3.10, DecayBenchmark.Interpolated(grid, 0.1), 12);
        Assert.Equal(3.04, DecayBenchmark.Interpolated(grid, 0.7), 12);
    }

    [Fact]
    public void TheDecayBenchmarkReplaysEveryCellOfAnotherGrid()
    {
        string grid = WriteGrid("grid");
        string json = Path.Combine(_folder.FullName, "decay.json");
        var output = new StringWriter();
        Assert.Equal(0, DecayBenchmark.Run(grid, json, output));
        var root = JsonNode.Parse(File.ReadAllText(json))!;
        var cells = root["cells"]!.AsArray();
        // Every budget longer than the shortest 20% cooldown (the calibration run), at both peaks.
        Assert.Equal(["0.0003 8000", "0.0003 12000", "0.0012 8000", "0.0012 12000"],
            cells.Select(c => string.Create(CultureInfo.InvariantCulture, $"{(double)c!["peak_lr"]!} {(int)c["total_steps"]!}")));
        // The baselines are the grid's own cooldown fractions.
        Assert.Equal(["fixed-0.1", "fixed-0.2", "fixed-0.5"], root["baselines"]!.AsObject().Select(b => b.Key));
        Assert.All(cells, c => Assert.InRange((double)c!["chosen_fraction"]!, 0.0, 1.0));
        Assert.All(cells, c => Assert.True((double)c!["interpolated_regret"]! >= 0, output.ToString()));
        Assert.True((double)root["mean_forecast_error"]! < 0.02, output.ToString());

        // The probe benchmark takes the shortest 10% cooldown (4000 steps) as the probe of every longer cooldown at the peak.
        string probes = Path.Combine(_folder.FullName, "probe.json");
        Assert.Equal(0, ProbeBenchmark.Run(grid, probes, TextWriter.Null, peaks: [1.2e-3]));
        var rows = JsonNode.Parse(File.ReadAllText(probes))!["rows"]!.AsArray();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal(3600, (long)r!["probe_fork"]!));
        Assert.All(rows, r => Assert.True((int)r!["total_steps"]! > 4000 && double.IsFinite((double)r["error"]!)));
    }

    // Curves in the MPL paper's layout (mpl/ of the shared data) at three sizes, listed out of order: per size a constant, a
    // cosine and a WSD fit run and a longer constant run to predict, from the direct FSL with a level that falls with size.
    private string WriteMplLayout(string name)
    {
        string folder = Path.Combine(_folder.FullName, name);
        Directory.CreateDirectory(Path.Combine(folder, "schedules"));
        const double peak = 3e-4;
        var schedules = new Dictionary<string, FslTorch.Schedules.LearningRateSchedule>
        {
            ["constant_6000"] = FslTorch.Schedules.Schedule.WithWarmup(FslTorch.Schedules.Schedule.Constant(peak), 200),
            ["cosine_6000"] = FslTorch.Schedules.Schedule.WarmupCosine(peak, 200, 6000, FslTorch.Schedules.DecayTarget.FractionOfPeak(0.1)),
            ["wsd_5000_6000"] = FslTorch.Schedules.Schedule.Wsd(peak, 200, 5000, 6000, FslTorch.Schedules.DecayShape.Linear, FslTorch.Schedules.DecayTarget.FractionOfPeak(0.1)),
            ["constant_12000"] = FslTorch.Schedules.Schedule.WithWarmup(FslTorch.Schedules.Schedule.Constant(peak), 200),
        };
        var manifest = new StringBuilder("file,model,run,schedule,role,schedule_file\n");
        foreach (var (size, level) in new[] { ("350M", 2.9), ("1.3B", 2.6), ("70M", 3.3) })
        {
            foreach (var (run, schedule) in schedules)
            {
                int total = int.Parse(run[(run.LastIndexOf('_') + 1)..], CultureInfo.InvariantCulture);
                var rates = schedule.Sample(total);
                string scheduleFile = $"schedules/schedule-{run}.csv";
                File.WriteAllLines(Path.Combine(folder, scheduleFile), ["step,lr", .. rates.Select((r, k) => string.Create(CultureInfo.InvariantCulture, $"{k},{r:R}"))]);
                var steps = Enumerable.Range(1, total / 100 - 3).Select(i => 200 + i * 100).ToArray();
                double[] truth = [level, .. Truth[1..]];
                var losses = new FslDirectLaw().Predict(truth, new FslTorch.Schedules.SampledSchedule(rates), steps);
                string file = $"mpl-{size}-{run}.csv";
                File.WriteAllLines(Path.Combine(folder, file), ["step,lr,loss", .. steps.Select((k, i) => string.Create(CultureInfo.InvariantCulture, $"{k},{rates[k]:R},{losses[i]:R}"))]);
                manifest.Append(CultureInfo.InvariantCulture, $"{file},{size},{run},{run[..run.IndexOf('_')]},{(run == "constant_12000" ? "predict" : "fit")},{scheduleFile}\n");
            }
        }
        File.WriteAllText(Path.Combine(folder, "manifest.csv"), manifest.ToString());
        return folder;
    }

    [Fact]
    public void BenchAllFindsCurvesInTheMplLayoutAtOtherSizesAndPredictsEachSizeFromTheNextSmallerOne()
    {
        string mpl = WriteMplLayout("scaling");
        Assert.Equal(["70M", "350M", "1.3B"], MplDataset.Sizes(mpl));
        var output = new StringWriter();
        var protocols = AllBenchmark.Protocols(_folder.FullName, output);
        Assert.Equal(["mpl-70M", "mpl-350M", "mpl-1.3B", "transfer-70M-350M", "transfer-350M-1.3B"], protocols.Select(p => p.Name));
        Assert.Contains("holds a schedule grid", output.ToString()); // no grid here
        Assert.All(protocols.Take(3), p => Assert.True(p.Fit.Count == 3 && p.Predict.Count == 1, p.Name));
        // The transfer sees the first steps of the larger size's constant run, with the smaller size's fit as its prior.
        var transfer = protocols.Single(p => p.Name == "transfer-350M-1.3B");
        Assert.True(transfer.Fit.Single().Steps[^1] <= TransferBenchmark.DefaultShortSteps);
        Assert.NotNull(transfer.Prior(LossCurveLaws.Default));
        // Beside a grid, both are found.
        WriteGrid("grid");
        Assert.Equal(9, AllBenchmark.Protocols(_folder.FullName, TextWriter.Null).Count);
    }
}
