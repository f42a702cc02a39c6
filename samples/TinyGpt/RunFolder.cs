using System.Globalization;
using System.Text.Json;
using FslTorch.Control;

namespace TinyGpt;

/// <summary>The files of a run: config.json, losses.csv, forecasts.jsonl, decisions.jsonl, checkpoint/, plots.</summary>
public sealed class RunFolder
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public RunFolder(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(Path);
        Directory.CreateDirectory(Checkpoint);
    }

    public string Path { get; }
    public string Checkpoint => System.IO.Path.Combine(Path, "checkpoint");
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public string CheckpointFile(string name) => System.IO.Path.Combine(Checkpoint, name);
    public bool HasCheckpoint => System.IO.File.Exists(CheckpointFile("progress.json"));

    public void WriteConfig(Settings settings) =>
        System.IO.File.WriteAllText(File("config.json"), JsonSerializer.Serialize(settings, new JsonSerializerOptions { WriteIndented = true }));

    public static Settings ReadConfig(string folder)
    {
        string path = System.IO.Path.Combine(folder, "config.json");
        if (!System.IO.File.Exists(path)) throw new InvalidDataException($"--resume {folder}: no config.json there (not a run folder).");
        return JsonSerializer.Deserialize<Settings>(System.IO.File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty.");
    }

    /// <summary>Starts the logs afresh, or (resuming at <paramref name="fromStep"/>) keeps only their lines before it.</summary>
    public void PrepareLogs(long fromStep)
    {
        Keep("losses.csv", "step,lr,loss,eval_loss", line => long.Parse(line.Split(',')[0], CultureInfo.InvariantCulture) < fromStep);
        Keep("forecasts.jsonl", null, line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64() < fromStep);
        // A decision is labelled with the next step to take: the one made after the checkpoint's last step is kept.
        Keep("decisions.jsonl", null, line => JsonDocument.Parse(line).RootElement.GetProperty("Step").GetInt64() <= fromStep);
    }

    public void AppendLoss(long step, double lr, double loss, double? evalLoss) =>
        System.IO.File.AppendAllText(File("losses.csv"),
            string.Create(CultureInfo.InvariantCulture, $"{step},{lr:R},{loss:R},{(evalLoss is double e ? e.ToString("R", CultureInfo.InvariantCulture) : "")}\n"));

    public void AppendForecast(Forecast forecast) =>
        System.IO.File.AppendAllText(File("forecasts.jsonl"), JsonSerializer.Serialize(new
        {
            step = forecast.Step,
            final_loss = forecast.FinalLoss,
            lower = forecast.Lower,
            upper = forecast.Upper,
            law = forecast.Fit.Law.Name,
            parameters = forecast.Fit.NamedParameters,
        }, Json) + "\n");

    public void AppendDecision(DecayDecision decision) =>
        System.IO.File.AppendAllText(File("decisions.jsonl"), JsonSerializer.Serialize(decision, Json) + "\n");

    private void Keep(string name, string? header, Func<string, bool> keep)
    {
        string path = File(name);
        var lines = System.IO.File.Exists(path) ? System.IO.File.ReadAllLines(path).ToList() : [];
        var body = lines.Skip(header == null ? 0 : 1).Where(l => l.Length > 0 && keep(l)).ToList();
        System.IO.File.WriteAllLines(path, header == null ? body : [header, .. body]);
    }
}
