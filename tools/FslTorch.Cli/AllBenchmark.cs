using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FslTorch.Fitting;

namespace FslTorch.Cli;

/// <summary>
/// <c>fsl bench all</c>: every fit-then-predict protocol on the shared data, one table of laws × protocols
/// (mean strict PredE / WorstE, standard PredE, fit seconds, failures), so that a change to a law is judged at
/// a glance. Protocols: the Multi-Power Law paper's (25M, 100M), and 100M from 25M (<see cref="TransferBenchmark"/>);
/// on the 124M grid at each peak LR, "schedules"
/// (fit a constant, a short WSD and a cut cosine run; predict the rest) and "horizon" (fit the constant and the
/// shortest 20%-cooldown run; predict the longer 20%-cooldown runs).
/// </summary>
internal static class AllBenchmark
{
    /// <summary>One protocol: a name, its fit and predict curves, and (for a transfer) each law's prior from other runs.</summary>
    public sealed record ProtocolData(string Name, IReadOnlyList<ObservedCurve> Fit, IReadOnlyList<ObservedCurve> Predict)
    {
        /// <summary>The prior a law is fitted with (null: none).</summary>
        public Func<FslTorch.Surrogates.LossCurveLaw, ParameterPrior?> Prior { get; init; } = _ => null;

        /// <summary>The runs behind the fit, prior included, that <c>auto</c> picks its law for (null: <see cref="Fit"/>).</summary>
        public IReadOnlyList<ObservedCurve>? Runs { get; init; }
    }

    /// <summary>
    /// The protocols found under <paramref name="dataFolder"/>: every folder in the MPL paper's layout (mpl/; each size's
    /// protocol and each larger size from the next smaller one), and every folder holding a schedule grid's manifest
    /// (<see cref="SchaippDataset.IsGrid"/>: schaipp-124m/ in the shared data, and any other grid of that layout, whose
    /// protocol names then carry the folder's name), or <paramref name="dataFolder"/> itself when it is a grid. A missing
    /// folder, or a protocol a grid lacks the runs for, is skipped with a line.
    /// </summary>
    public static IReadOnlyList<ProtocolData> Protocols(string dataFolder, TextWriter output)
    {
        if (!Directory.Exists(dataFolder)) throw new DirectoryNotFoundException($"{dataFolder}: no such folder (--data is the shared data folder, with mpl/ and schaipp-124m/).");
        var protocols = new List<ProtocolData>();
        // Every folder in the MPL paper's layout (mpl/ in the shared data): each model size's protocol, and each larger size
        // predicted from the next smaller one (transfer-25M-100M there).
        // --data itself when it is in a layout, else its folders that are.
        List<string> Folders(Func<string, bool> isLayout) => isLayout(dataFolder) ? [dataFolder]
            : Directory.GetDirectories(dataFolder).Order(StringComparer.Ordinal).Where(isLayout).ToList();
        var mplFolders = Folders(MplDataset.IsMplLayout);
        if (mplFolders.Count == 0) output.WriteLine($"skipped: no folder of {dataFolder} holds curves in the MPL paper's layout, as mpl/ does");
        foreach (var mpl in mplFolders)
        {
            string prefix = mplFolders.Count == 1 ? "" : Path.GetFileName(mpl) + "/";
            var sizes = MplDataset.Sizes(mpl);
            foreach (var size in sizes)
            {
                try
                {
                    var (fit, predict) = MplDataset.Load(mpl, size);
                    if (predict.Count == 0) output.WriteLine($"skipped: {prefix}mpl-{size}: no 'predict' run");
                    else protocols.Add(new ProtocolData($"{prefix}mpl-{size}", fit, predict));
                }
                catch (InvalidDataException e)
                {
                    output.WriteLine($"skipped: {prefix}mpl-{size}: {e.Message}");
                }
            }
            foreach (var (from, to) in sizes.Zip(sizes.Skip(1)))
            {
                try
                {
                    var transfer = TransferBenchmark.Protocol(mpl, from, to, TransferBenchmark.DefaultShortSteps, TransferBenchmark.DefaultSpread);
                    protocols.Add(transfer with { Name = prefix + transfer.Name });
                }
                catch (Exception e) when (e is ArgumentException or InvalidDataException)
                {
                    output.WriteLine($"skipped: {prefix}transfer-{from}-{to}: {e.Message}");
                }
            }
        }
        var grids = Folders(SchaippDataset.IsGrid);
        if (grids.Count == 0) output.WriteLine($"skipped: no folder of {dataFolder} holds a schedule grid (a manifest.csv with {string.Join(", ", SchaippDataset.RequiredColumns)}), as schaipp-124m/ does");
        foreach (var grid in grids)
        {
            // One grid keeps the short names (schedules-0.001); with several, each name says its grid's folder.
            string prefix = grids.Count == 1 ? "" : Path.GetFileName(grid) + "/";
            var runs = SchaippDataset.Load(grid, output);
            foreach (double peak in SchaippDataset.Peaks(runs))
            {
                string lr = peak.ToString("G", CultureInfo.InvariantCulture);
                foreach (var (name, protocol) in new (string, Func<IReadOnlyList<SchaippRun>, double, (IReadOnlyList<ObservedCurve>, IReadOnlyList<ObservedCurve>)>)[]
                    { ("schedules", SchaippDataset.SchedulesProtocol), ("horizon", SchaippDataset.HorizonProtocol) })
                {
                    try
                    {
                        var (fit, predict) = protocol(runs, peak);
                        if (predict.Count == 0) output.WriteLine($"skipped: {prefix}{name}-{lr}: no run left to predict");
                        else protocols.Add(new ProtocolData($"{prefix}{name}-{lr}", fit, predict));
                    }
                    catch (InvalidDataException e)
                    {
                        output.WriteLine($"skipped: {prefix}{name}-{lr}: {e.Message}");
                    }
                }
            }
        }
        if (protocols.Count == 0) throw new InvalidDataException($"{dataFolder} holds neither mpl/ nor a schedule grid with the runs of a protocol.");
        return protocols;
    }

    public static int Run(string dataFolder, IReadOnlyList<string> laws, FitOptions options, string? json, TextWriter output)
    {
        var protocols = Protocols(dataFolder, output);
        var clock = Stopwatch.StartNew();
        var results = new List<(ProtocolData Protocol, IReadOnlyList<LawScore> Scores)>();
        foreach (var protocol in protocols)
        {
            var scores = Protocol.RunAll(laws, protocol.Fit, protocol.Predict, options, protocol.Prior, protocol.Runs);
            results.Add((protocol, scores));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{protocol.Name,-18} {string.Join("  ", scores.Select(s => $"{s.Law} {s.Strict.PredE:F5}"))}"));
        }
        output.WriteLine();
        PrintTable(results, laws, output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{protocols.Count} protocols, {laws.Count} laws, {clock.Elapsed.TotalSeconds:F0} s"));
        if (json != null)
        {
            Report.WriteJson(new JsonObject
            {
                ["protocols"] = new JsonArray(results.Select(r => (JsonNode)Report.ToJson(r.Protocol.Name, r.Scores)).ToArray()),
                ["summary"] = Summary(results, laws),
            }, json);
        }
        return 0;
    }

    /// <summary>Each law's mean over protocols and its rank against the best law of each protocol (by strict PredE).</summary>
    private static JsonArray Summary(List<(ProtocolData Protocol, IReadOnlyList<LawScore> Scores)> results, IReadOnlyList<string> laws) =>
        new(laws.Select((law, i) => (JsonNode)new JsonObject
        {
            ["law"] = law,
            ["worst_ratio_to_best_strict_prede"] = Report.Number(results.Max(r => RatioToBest(r.Scores, i))),
            ["protocols_within_10pct_of_best"] = results.Count(r => RatioToBest(r.Scores, i) <= 1.1),
            ["failures"] = results.Sum(r => Failures(r.Scores[i])),
            ["fit_seconds_max"] = Report.Number(results.Max(r => r.Scores[i].FitSeconds)),
        }).ToArray());

    private static double RatioToBest(IReadOnlyList<LawScore> scores, int law)
    {
        double best = scores.Where(s => double.IsFinite(s.Strict.PredE)).Select(s => s.Strict.PredE).DefaultIfEmpty(double.NaN).Min();
        return scores[law].Strict.PredE / best;
    }

    private static int Failures(LawScore score) => score.Fit.Succeeded ? score.PerRun.Count(r => r.Failure != null) : score.PerRun.Count;

    private static void PrintTable(List<(ProtocolData Protocol, IReadOnlyList<LawScore> Scores)> results, IReadOnlyList<string> laws, TextWriter output)
    {
        output.WriteLine("strict PredE / strict WorstE / PredE (fit s) per protocol; * = best strict PredE; failures in brackets");
        output.WriteLine($"{"protocol",-18} " + string.Join(" ", laws.Select(l => $"{l,-34}")));
        foreach (var (protocol, scores) in results)
        {
            double best = scores.Select(s => s.Strict.PredE).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
            var cells = scores.Select(s =>
            {
                string mark = s.Strict.PredE == best ? "*" : " ";
                string failed = Failures(s) > 0 ? $" [{Failures(s)} failed]" : "";
                return string.Create(CultureInfo.InvariantCulture, $"{s.Strict.PredE:F5}{mark}/{s.Strict.WorstE:F4}/{s.Standard.PredE:F5} ({s.FitSeconds:F1}){failed}");
            });
            output.WriteLine($"{protocol.Name,-18} " + string.Join(" ", cells.Select(c => $"{c,-34}")));
        }
        output.WriteLine($"{"worst ratio to best",-18} " + string.Join(" ", laws.Select((_, i) =>
            $"{results.Max(r => RatioToBest(r.Scores, i)).ToString("F2", CultureInfo.InvariantCulture),-34}")));
        output.WriteLine($"{"within 10% of best",-18} " + string.Join(" ", laws.Select((_, i) =>
            $"{$"{results.Count(r => RatioToBest(r.Scores, i) <= 1.1)} of {results.Count}",-34}")));
    }
}
