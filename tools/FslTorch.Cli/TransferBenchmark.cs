using System.Globalization;
using System.Text.Json.Nodes;
using FslTorch.Fitting;
using FslTorch.Surrogates;

namespace FslTorch.Cli;

/// <summary>
/// A larger model predicted from a smaller one on the MPL curves (<c>fsl bench transfer</c>): the law fitted to the
/// small size's three fit runs gives the shape of the curve (every parameter but the irreducible loss L0 and the
/// amplitude of the power law in time) as a prior; a short stretch of one large-size run (the first steps of its
/// constant run) gives the level; the large size's six predict runs are scored as in <c>fsl bench mpl</c>. Beside
/// it: the small size's fit alone (no large-size point), the short stretch alone (no prior), and the large size's
/// own three fit runs (the paper's protocol).
/// </summary>
internal static class TransferBenchmark
{
    /// <summary>The steps of the larger size's constant run that are seen, and the shape prior's spread, by default.</summary>
    public const int DefaultShortSteps = 8000;
    /// <inheritdoc cref="DefaultShortSteps"/>
    public const double DefaultSpread = 0.05;

    /// <summary>The transfer as a protocol of <c>fsl bench all</c>: fit the short stretch with each law's shape prior, predict the larger size's runs.</summary>
    public static AllBenchmark.ProtocolData Protocol(string folder, string from, string to, int shortSteps, double spread)
    {
        var (sourceFit, _) = MplDataset.Load(folder, from);
        var (targetFit, targetPredict) = MplDataset.Load(folder, to);
        var stretch = Stretch(targetFit, shortSteps);
        return new AllBenchmark.ProtocolData($"transfer-{from}-{to}", [stretch], targetPredict)
        {
            Prior = law => LawFitter.Fit(law, sourceFit) is { Succeeded: true } source ? ShapePrior(law, source, spread) : null,
            Runs = [.. sourceFit, stretch],
        };
    }

    // The first steps of the larger size's constant fit run.
    private static ObservedCurve Stretch(IReadOnlyList<ObservedCurve> targetFit, int shortSteps)
    {
        var constant = targetFit.FirstOrDefault(c => c.Name.StartsWith("constant", StringComparison.Ordinal))
            ?? throw new InvalidDataException("The larger size has no constant fit run.");
        var stretch = constant.Where(step => step <= shortSteps);
        if (stretch.Count < 8) throw new ArgumentException($"--short-steps {shortSteps} leaves {stretch.Count} points of {constant.Name}; give more steps.");
        return stretch;
    }

    // The curve's shape: every parameter but the irreducible loss and the amplitude of the power law in time.
    private static ParameterPrior ShapePrior(LossCurveLaw law, FitResult source, double spread)
    {
        return ParameterPrior.FromFit(source, spread, law.Parameters.Select(p => p.Name).Where(n => n != "L0" && n != law.AmplitudeParameter));
    }

    public static int Run(string folder, string from, string to, int shortSteps, double spread, IReadOnlyList<string> laws, string? json, TextWriter output)
    {
        var (sourceFit, _) = MplDataset.Load(folder, from);
        var (targetFit, targetPredict) = MplDataset.Load(folder, to);
        var stretch = Stretch(targetFit, shortSteps);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{to} predicted from {from}: the shape from {from}'s fit runs ({string.Join(", ", sourceFit.Select(c => c.Name))}), the level from {to} {stretch.Name} through step {stretch.Steps[^1]} ({stretch.Count} points); prior spread {spread} (log space)"));
        var tables = new JsonArray();
        foreach (string given in laws)
        {
            // auto: the law picked for every run behind the transfer (the smaller size's fit runs and the stretch).
            var law = Cli.Protocol.Law(given, [.. sourceFit, stretch]);
            string name = given == LossCurveLaws.Auto ? $"{given} ({law.Name})" : given;
            var source = LawFitter.Fit(law, sourceFit);
            if (!source.Succeeded)
            {
                output.WriteLine($"{name}: the {from} fit failed ({source.Message})");
                continue;
            }
            var prior = ShapePrior(law, source, spread);
            var variants = new (string Label, Func<LawScore> Score)[]
            {
                ($"{name}, {from} shape + {to} first {shortSteps} steps", () => Cli.Protocol.Run(law, [stretch], targetPredict, prior: prior) with { Law = $"{name}+transfer" }),
                ($"{name}, {to} first {shortSteps} steps alone", () => Cli.Protocol.Run(law, [stretch], targetPredict) with { Law = $"{name}+short" }),
                ($"{name}, {from} fit alone", () => SourceAlone(law, source, sourceFit, targetPredict) with { Law = $"{name}+{from}" }),
                ($"{name}, {to} fit runs (the paper's protocol)", () => Cli.Protocol.Run(law, targetFit, targetPredict) with { Law = $"{name}+{to}" }),
            };
            var scores = variants.Select(v => v.Score()).ToList();
            Report.PrintTable($"transfer-{from}-{to} ({name}; rows: {string.Join("; ", variants.Select(v => v.Label))})", scores, output);
            tables.Add(Report.ToJson($"transfer-{from}-{to}-{name}", scores));
        }
        if (json != null) Report.WriteJson(new JsonObject { ["short_steps"] = shortSteps, ["prior_spread"] = spread, ["tables"] = tables }, json);
        return 0;
    }

    // The small size's parameters used as they are on the large size's runs.
    private static LawScore SourceAlone(LossCurveLaw law, FitResult source, IReadOnlyList<ObservedCurve> sourceFit, IReadOnlyList<ObservedCurve> predict)
    {
        var perRun = predict.Select(run => Cli.Protocol.Score(run, source, Cli.Protocol.FirstForecastStep(run, sourceFit))).ToList();
        return new LawScore(law.Name, source, source.WallTime.TotalSeconds, CurveMetrics.Average(perRun.Select(r => r.Standard)),
            CurveMetrics.Average(perRun.Select(r => r.Strict)), perRun);
    }
}
