using System.Globalization;
using System.Text.Json;
using FslTorch.Control;

namespace TinyGpt;

/// <summary>
/// The files of a run: config.json, losses.csv, forecasts.jsonl, decisions.jsonl, checkpoint/, plots. A checkpoint is
/// written whole into checkpoint/incoming (each file flushed to disk, progress.json last) and then renamed to
/// checkpoint/latest, the one before it kept as checkpoint/previous; a process killed at any moment leaves a complete
/// checkpoint behind. The logs are append-only; a line cut short by a kill is dropped on resume.
/// </summary>
public sealed class RunFolder
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>A run folder at <paramref name="path"/>; nothing is created until <see cref="Create"/>.</summary>
    public RunFolder(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }
    public string Checkpoints => System.IO.Path.Combine(Path, "checkpoint");
    /// <summary>The last complete checkpoint.</summary>
    public string Checkpoint => System.IO.Path.Combine(Checkpoints, "latest");
    /// <summary>The complete checkpoint before <see cref="Checkpoint"/>.</summary>
    public string PreviousCheckpoint => System.IO.Path.Combine(Checkpoints, "previous");
    private string IncomingCheckpoint => System.IO.Path.Combine(Checkpoints, "incoming");
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Creates the folder.</summary>
    public RunFolder Create()
    {
        Directory.CreateDirectory(Checkpoints);
        return this;
    }

    /// <summary>The files a run writes, removed by <see cref="Clear"/> (nothing else in the folder is touched).</summary>
    private static readonly string[] RunFiles = ["config.json", "losses.csv", "forecasts.jsonl", "decisions.jsonl", "summary.json", "fit.json", "loss.png", "lr.png"];

    /// <summary>Removes a run's files and checkpoints from the folder (for <c>--overwrite</c>).</summary>
    public void Clear()
    {
        if (!Directory.Exists(Path)) return;
        foreach (var name in RunFiles) System.IO.File.Delete(File(name));
        if (Directory.Exists(Checkpoints)) Directory.Delete(Checkpoints, recursive: true);
        if (Directory.Exists(File("tensorboard"))) Directory.Delete(File("tensorboard"), recursive: true);
    }

    /// <summary>Whether the folder holds (part of) a run: its config, logs or checkpoints.</summary>
    public bool HoldsARun => System.IO.File.Exists(File("config.json")) || System.IO.File.Exists(File("losses.csv")) || Directory.Exists(Checkpoints);

    /// <summary>
    /// The complete checkpoint to continue from: latest; previous when a kill came between the two renames of a
    /// checkpoint (or <paramref name="usePrevious"/> asks for it); null when the run has none.
    /// </summary>
    public string? ResumableCheckpoint(bool usePrevious = false)
    {
        if (!usePrevious && IsComplete(Checkpoint)) return Checkpoint;
        return IsComplete(PreviousCheckpoint) ? PreviousCheckpoint : null;
    }

    private static bool IsComplete(string folder) => System.IO.File.Exists(System.IO.Path.Combine(folder, "progress.json"));

    /// <summary>The files of a checkpoint; progress.json, written last, marks it complete.</summary>
    public static readonly string[] CheckpointFiles = ["model.bin", "optimizer.bin", "scheduler.json", "monitor.json", "progress.json"];

    /// <summary>
    /// Writes a checkpoint atomically: <paramref name="write"/> fills checkpoint/incoming (progress.json last), every
    /// file is flushed to disk, then latest becomes previous and incoming becomes latest.
    /// </summary>
    public void SaveCheckpoint(Action<string> write)
    {
        if (Directory.Exists(IncomingCheckpoint)) Directory.Delete(IncomingCheckpoint, recursive: true);
        Directory.CreateDirectory(IncomingCheckpoint);
        write(IncomingCheckpoint);
        foreach (var file in Directory.EnumerateFiles(IncomingCheckpoint))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            stream.Flush(flushToDisk: true);
        }
        if (Directory.Exists(Checkpoint))
        {
            if (Directory.Exists(PreviousCheckpoint)) Directory.Delete(PreviousCheckpoint, recursive: true);
            Directory.Move(Checkpoint, PreviousCheckpoint);
        }
        Directory.Move(IncomingCheckpoint, Checkpoint);
    }

    /// <summary>Where the checkpoint taken after <paramref name="steps"/> steps is kept (<c>--checkpoint-at</c>).</summary>
    public string KeptCheckpoint(long steps) => System.IO.Path.Combine(Checkpoints, string.Create(CultureInfo.InvariantCulture, $"step-{steps}"));

    /// <summary>The step a checkpoint folder continues at.</summary>
    public static long NextStep(string checkpointFolder)
    {
        string path = System.IO.Path.Combine(checkpointFolder, "progress.json");
        try
        {
            return JsonDocument.Parse(System.IO.File.ReadAllText(path)).RootElement.GetProperty("next_step").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is damaged ({e.Message}).", e);
        }
    }

    /// <summary>
    /// The checkpoint of <paramref name="parent"/> after <paramref name="steps"/> steps, to branch from; refused
    /// (before anything is written) when the parent kept none.
    /// </summary>
    public static string BranchSource(RunFolder parent, long steps)
    {
        string kept = parent.KeptCheckpoint(steps);
        if (IsComplete(kept)) return kept;
        var latest = parent.ResumableCheckpoint();
        if (latest != null && NextStep(latest) == steps) return latest;
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"--branch-from {parent.Path}: it kept no checkpoint after step {steps} (run it with --checkpoint-at {steps})."));
    }

    /// <summary>
    /// Fills this (new) folder with <paramref name="parent"/>'s checkpoint <paramref name="source"/> and the parent's
    /// logs, so that training continues from there (the logs are trimmed to the steps before the branch by
    /// <see cref="PrepareLogs"/>).
    /// </summary>
    public void BranchFrom(RunFolder parent, string source)
    {
        // The parent's scheduler state belongs to its own schedule: a branch starts its schedule at the step instead.
        SaveCheckpoint(into => CopyFiles(source, into, CheckpointFiles.Where(n => n != "scheduler.json")));
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
        foreach (var name in names)
        {
            string source = System.IO.Path.Combine(from, name);
            if (System.IO.File.Exists(source)) System.IO.File.Copy(source, System.IO.Path.Combine(to, name), overwrite: true);
        }
    }

    /// <summary>
    /// Checks that the LR of every logged step equals <paramref name="schedule"/>'s, as a resumed or branched run
    /// needs in order to equal one uninterrupted run with that schedule.
    /// </summary>
    public void CheckHistory(FslTorch.Schedules.LearningRateSchedule schedule)
    {
        foreach (var (number, line) in ReadLog("losses.csv", header: true))
        {
            var cells = line.Split(',');
            long step = long.Parse(cells[0], CultureInfo.InvariantCulture);
            double logged = double.Parse(cells[1], CultureInfo.InvariantCulture), planned = schedule.GetLearningRate(step);
            if (logged != planned)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"the schedule gives LR {planned:R} at step {step} but the run took {logged:R} (losses.csv, line {number}): a branch must share the schedule of the steps before it."));
            }
        }
    }

    public void WriteConfig(Settings settings) =>
        FslTorch.AtomicFile.WriteAllText(File("config.json"), JsonSerializer.Serialize(settings, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>
    /// The errors of a finished run's forecasts (forecasts.jsonl) against what it reached (summary.json, losses.csv;
    /// <see cref="ForecastError.Of"/>): what <c>--abort-reference</c> widens an abort band by. Forecasts logged by a
    /// build without horizons (no <c>horizon_step</c>) are scored at the end.
    /// </summary>
    public static IReadOnlyList<ForecastError> ForecastErrors(string folder)
    {
        var run = new RunFolder(folder);
        if (!System.IO.File.Exists(run.File("summary.json"))) throw new InvalidDataException($"{folder}: no summary.json there (not a finished run).");
        var summary = RunSummary.Read(run.File("summary.json"));
        if (summary.AbortReason != null) throw new InvalidDataException($"{folder}: that run was aborted, so it has no final loss to score its forecasts by.");
        var forecasts = run.ForecastRecords(summary.Steps);
        var curve = run.ReadLog("losses.csv", header: true).Select(l => l.Line.Split(','))
            .Select(c => (Step: long.Parse(c[0], CultureInfo.InvariantCulture), Loss: double.Parse(c[2], CultureInfo.InvariantCulture))).ToList();
        return ForecastError.Of(forecasts, summary.Steps, summary.FinalTrainingLoss, curve);
    }

    /// <summary>
    /// The forecasts logged so far (forecasts.jsonl; none when there is no such file), as a monitor keeps them; a run
    /// of <paramref name="totalSteps"/> steps. Forecasts logged by a build without horizons (no <c>horizon_step</c>) count
    /// as reaching the end.
    /// </summary>
    public IReadOnlyList<ForecastRecord> ForecastRecords(long totalSteps)
    {
        if (!System.IO.File.Exists(File("forecasts.jsonl"))) return [];
        static bool Flag(JsonElement f, string name) => f.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
        return ReadLog("forecasts.jsonl", header: false).Select(l => JsonDocument.Parse(l.Line).RootElement).Select(f => new ForecastRecord(
            f.GetProperty("step").GetInt64(), f.GetProperty("final_loss").GetDouble(), f.GetProperty("lower").GetDouble(), f.GetProperty("upper").GetDouble(),
            Flag(f, "calibrated"), Flag(f, "decay_evidence") || !f.TryGetProperty("horizon_step", out _),
            f.TryGetProperty("horizon_step", out var horizon) ? horizon.GetInt64() : totalSteps - 1,
            f.TryGetProperty("horizon_loss", out var loss) && loss.ValueKind == JsonValueKind.Number ? loss.GetDouble() : double.NaN)).ToList();
    }

    public static Settings ReadConfig(string folder)
    {
        string path = System.IO.Path.Combine(folder, "config.json");
        if (!System.IO.File.Exists(path)) throw new InvalidDataException($"{folder}: no config.json there (not a run folder).");
        try
        {
            return JsonSerializer.Deserialize<Settings>(System.IO.File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is damaged ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Starts the logs afresh, or (resuming at <paramref name="fromStep"/>) keeps only their lines before it. A last
    /// line cut short by a kill is dropped (and reported to <paramref name="notice"/>); any other line that cannot be
    /// read is refused with its file and line.
    /// </summary>
    public void PrepareLogs(long fromStep, Action<string> notice)
    {
        Keep("losses.csv", "step,lr,loss,eval_loss", line => Step(line.Split(',')[0]) < fromStep, notice);
        Keep("forecasts.jsonl", null, line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64() < fromStep, notice);
        // A decision is labelled with the next step to take: the one made after the checkpoint's last step is kept.
        Keep("decisions.jsonl", null, line => JsonDocument.Parse(line).RootElement.GetProperty("Step").GetInt64() <= fromStep, notice);
    }

    private static long Step(string cell) => long.Parse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>The last evaluation loss logged in losses.csv (NaN when none).</summary>
    public double LastEvalLoss()
    {
        if (!System.IO.File.Exists(File("losses.csv"))) return double.NaN;
        var last = ReadLog("losses.csv", header: true).Select(l => l.Line.Split(',')).LastOrDefault(c => c.Length > 3 && c[3].Length > 0);
        return last == null ? double.NaN : double.Parse(last[3], CultureInfo.InvariantCulture);
    }

    public void AppendLoss(long step, double lr, double loss, double? evalLoss) =>
        System.IO.File.AppendAllText(File("losses.csv"),
            string.Create(CultureInfo.InvariantCulture, $"{step},{lr:R},{loss:R},{(evalLoss is double e ? e.ToString("R", CultureInfo.InvariantCulture) : "")}\n"));

    public void AppendForecast(Forecast forecast) => System.IO.File.AppendAllText(File("forecasts.jsonl"), ForecastLine(forecast) + "\n");

    /// <summary>A forecast as one line of forecasts.jsonl (also what a replay writes for each forecast it makes).</summary>
    public static string ForecastLine(Forecast forecast) => JsonSerializer.Serialize(new
    {
        step = forecast.Step,
        final_loss = forecast.FinalLoss,
        lower = forecast.Lower,
        upper = forecast.Upper,
        calibrated = forecast.Calibrated,
        caveat = forecast.Caveat,
        hindcast_error = forecast.Hindcast?.Error,
        hindcast_from = forecast.Hindcast?.FittedThrough,
        hindcast_to = forecast.Hindcast?.CheckedThrough,
        hindcast_drop = forecast.Hindcast?.ObservedDrop,
        hindcast_se = forecast.Hindcast?.StandardError,
        decay_evidence = forecast.HasDecayEvidence,
        unseen_gain = forecast.UnseenCooldownGain,
        smoothing_lag = forecast.SmoothingLag,
        fit_start = forecast.FitStartStep,
        horizon_step = forecast.HorizonStep,
        horizon_loss = double.IsFinite(forecast.HorizonLoss) ? forecast.HorizonLoss : (double?)null,
        law = forecast.Fit.Law.Name,
        lr_scale = forecast.Fit.LearningRateScale,
        parameters = forecast.Fit.NamedParameters,
    }, Json);

    public void AppendDecision(DecayDecision decision) =>
        System.IO.File.AppendAllText(File("decisions.jsonl"), JsonSerializer.Serialize(decision, Json) + "\n");

    // The complete lines of an append-only log with their line numbers (a last line without its newline was cut short).
    private IEnumerable<(int Number, string Line)> ReadLog(string name, bool header)
    {
        string path = File(name);
        if (!System.IO.File.Exists(path)) yield break;
        string text = System.IO.File.ReadAllText(path);
        var lines = text.Split('\n');
        // Split leaves "" after a final newline, or the torn last line: either way the last element is not a complete line.
        for (int i = header ? 1 : 0; i < lines.Length - 1; i++)
        {
            if (lines[i].Length > 0) yield return (i + 1, lines[i]);
        }
    }

    private void Keep(string name, string? header, Func<string, bool> keep, Action<string> notice)
    {
        string path = File(name);
        if (!System.IO.File.Exists(path))
        {
            FslTorch.AtomicFile.WriteAllText(path, header == null ? "" : header + "\n");
            return;
        }
        string text = System.IO.File.ReadAllText(path);
        if (text.Length > 0 && !text.EndsWith('\n')) notice($"{name}: the last line was cut short (the process died while writing it); it is dropped.");
        var body = new List<string>();
        foreach (var (number, line) in ReadLog(name, header != null))
        {
            bool kept;
            try
            {
                kept = keep(line);
            }
            catch (Exception e) when (e is FormatException or OverflowException or JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
            {
                throw new InvalidDataException($"{path}, line {number} cannot be read ({e.Message}): '{(line.Length > 80 ? line[..80] + "…" : line)}'.", e);
            }
            if (kept) body.Add(line);
        }
        FslTorch.AtomicFile.WriteAllText(path, string.Concat((header == null ? body : [header, .. body]).Select(l => l + "\n")));
    }
}
