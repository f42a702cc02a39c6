using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FslTorch.Fitting;

namespace FslTorch.Cli;

/// <summary>The benchmark table and its JSON.</summary>
internal static class Report
{
    public static void PrintTable(string dataset, IReadOnlyList<LawScore> scores, TextWriter output)
    {
        output.WriteLine($"dataset: {dataset}");
        output.WriteLine("law          fit s   R2       MAE      RMSE     PredE    WorstE   | strict PredE  WorstE   | fit");
        foreach (var s in scores)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Law,-11} {s.FitSeconds,6:F2}  {s.Standard.R2,-8:F4} {s.Standard.Mae,-8:F5} {s.Standard.Rmse,-8:F5} {s.Standard.PredE,-8:F5} {s.Standard.WorstE,-8:F5} | {s.Strict.PredE,-13:F5} {s.Strict.WorstE,-8:F5} | {s.Fit.ExitReason} ({s.Fit.Iterations} it){(s.Fit.Succeeded ? "" : ": " + s.Fit.Message)}{Failures(s)}"));
        }
        foreach (var s in scores)
        {
            output.WriteLine($"  {s.Law} per run (standard PredE / strict PredE):");
            foreach (var run in s.PerRun)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {run.Run,-24} {run.Standard.PredE:F5} / {run.Strict.PredE:F5}{(s.Fit.Succeeded && run.Failure != null ? "  failed: " + run.Failure : "")}"));
            }
        }
    }

    private static string Failures(LawScore s)
    {
        int failed = s.PerRun.Count(r => r.Failure != null);
        return s.Fit.Succeeded && failed > 0 ? $"; {failed} of {s.PerRun.Count} runs not evaluable" : "";
    }

    public static JsonObject ToJson(string dataset, IReadOnlyList<LawScore> scores) => new()
    {
        ["dataset"] = dataset,
        ["results"] = new JsonArray(scores.Select(s => (JsonNode)new JsonObject
        {
            ["law"] = s.Law,
            ["fit_seconds"] = Math.Round(s.FitSeconds, 4),
            ["fit_exit"] = s.Fit.ExitReason.ToString(),
            ["fit_message"] = s.Fit.Message,
            ["parameters"] = new JsonObject(s.Fit.Law.Parameters.Select((p, i) =>
                KeyValuePair.Create(p.Name, (JsonNode?)Number(s.Fit.Parameters[i])))),
            ["standard"] = Metrics(s.Standard),
            ["strict"] = Metrics(s.Strict),
            ["per_run"] = new JsonArray(s.PerRun.Select(r => (JsonNode)new JsonObject
            {
                ["run"] = r.Run,
                ["standard"] = Metrics(r.Standard),
                ["strict"] = Metrics(r.Strict),
                ["failure"] = r.Failure,
            }).ToArray()),
        }).ToArray()),
    };

    public static void WriteJson(JsonNode json, string path)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder != null) Directory.CreateDirectory(folder);
        FslTorch.AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static JsonObject Metrics(CurveMetrics m) => new()
    {
        ["r2"] = Number(m.R2),
        ["mae"] = Number(m.Mae),
        ["rmse"] = Number(m.Rmse),
        ["prede"] = Number(m.PredE),
        ["worste"] = Number(m.WorstE),
    };

    // JSON has no NaN: a metric that does not exist (no points, failed fit) is null.
    internal static JsonValue? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;
}
