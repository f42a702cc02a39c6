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

    /// <summary>The files of a checkpoint.</summary>
    public static readonly string[] CheckpointFiles = ["model.bin", "optimizer.bin", "scheduler.json", "monitor.json", "progress.json"];

    /// <summary>Where the checkpoint taken after <paramref name="steps"/> steps is kept (<c>--checkpoint-at</c>).</summary>
    public string KeptCheckpoint(long steps) => System.IO.Path.Combine(Checkpoint, string.Create(CultureInfo.InvariantCulture, $"step-{steps}"));

    /// <summary>The step a checkpoint folder continues at.</summary>
    public static long NextStep(string checkpointFolder) =>
        JsonDocument.Parse(System.IO.File.ReadAllText(System.IO.Path.Combine(checkpointFolder, "progress.json"))).RootElement.GetProperty("next_step").GetInt64();

    /// <summary>
    /// Fills this (new) folder with the checkpoint <paramref name="parent"/> took after <paramref name="steps"/>
    /// steps and the parent's logs, so that training continues from there (the logs are trimmed to the steps
    /// before the branch by <see cref="PrepareLogs"/>).
    /// </summary>
    public void BranchFrom(RunFolder parent, long steps)
    {
        string source = parent.KeptCheckpoint(steps);
        if (!Directory.Exists(source))
        {
            source = parent.Checkpoint;
            if (!parent.HasCheckpoint || NextStep(source) != steps)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"--branch-from {parent.Path}: it kept no checkpoint after step {steps} (run it with --checkpoint-at {steps})."));
            }
        }
        // The parent's scheduler state belongs to its own schedule: a branch starts its schedule at the step instead.
        CopyFiles(source, Checkpoint, CheckpointFiles.Where(n => n != "scheduler.json"));
        System.IO.File.Delete(CheckpointFile("scheduler.json"));
        foreach (var name in new[] { "losses.csv", "forecasts.jsonl", "decisions.jsonl" })
        {
            if (System.IO.File.Exists(parent.File(name))) System.IO.File.Copy(parent.File(name), File(name), overwrite: true);
        }
    }

    /// <summary>Keeps a copy of the checkpoint just taken after <paramref name="steps"/> steps in <see cref="KeptCheckpoint"/>.</summary>
    public void KeepCheckpoint(long steps)
    {
        string kept = KeptCheckpoint(steps);
        Directory.CreateDirectory(kept);
        CopyFiles(Checkpoint, kept, CheckpointFiles);
    }

    private static void CopyFiles(string from, string to, IEnumerable<string> names)
    {
        foreach (var name in names) System.IO.File.Copy(System.IO.Path.Combine(from, name), System.IO.Path.Combine(to, name), overwrite: true);
    }

    /// <summary>
    /// Checks that the LR of every logged step equals <paramref name="schedule"/>'s, as a resumed or branched run
    /// needs in order to equal one uninterrupted run with that schedule.
    /// </summary>
    public void CheckHistory(FslTorch.Schedules.LearningRateSchedule schedule)
    {
        foreach (var line in System.IO.File.ReadLines(File("losses.csv")).Skip(1))
        {
            var cells = line.Split(',');
            long step = long.Parse(cells[0], CultureInfo.InvariantCulture);
            double logged = double.Parse(cells[1], CultureInfo.InvariantCulture), planned = schedule.GetLearningRate(step);
            if (logged != planned)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"the schedule gives LR {planned:R} at step {step} but the run took {logged:R}: a branch must share the schedule of the steps before it."));
            }
        }
    }

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

    /// <summary>The last evaluation loss logged in losses.csv (NaN when none).</summary>
    public double LastEvalLoss()
    {
        if (!System.IO.File.Exists(File("losses.csv"))) return double.NaN;
        var last = System.IO.File.ReadLines(File("losses.csv")).Skip(1).Select(l => l.Split(',')).LastOrDefault(c => c.Length > 3 && c[3].Length > 0);
        return last == null ? double.NaN : double.Parse(last[3], CultureInfo.InvariantCulture);
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
            calibrated = forecast.Calibrated,
            hindcast_error = forecast.Hindcast?.Error,
            decay_evidence = forecast.HasDecayEvidence,
            law = forecast.Fit.Law.Name,
            lr_scale = forecast.Fit.LearningRateScale,
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
