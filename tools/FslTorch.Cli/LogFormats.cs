using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Cli;

/// <summary>
/// The log formats every command reads, into the rows of <see cref="ObservedCurve.FromRows"/>: <c>step,lr,loss</c>
/// CSV, JSON Lines (one object per step; field names configurable), the Hugging Face Trainer's
/// <c>trainer_state.json</c> (<c>log_history</c> entries with <c>step</c>, <c>loss</c>, <c>learning_rate</c>), and
/// TensorBoard event files (a file, or a folder of them; scalar tags configurable), as TorchSharp's and PyTorch's
/// <c>SummaryWriter</c> write them.
/// </summary>
internal sealed record LogFormats(string Format, string StepField, string LearningRateField, string LossField, string LossTag, string LearningRateTag)
{
    public static readonly string[] Names = ["auto", "csv", "jsonl", "hf", "tensorboard"];

    /// <summary>The options that choose a format, shared by the commands that read logs.</summary>
    public sealed class Options
    {
        public Option<string> Format { get; } = new("--format") { Description = "auto (by name and content), csv, jsonl, hf (trainer_state.json) or tensorboard.", DefaultValueFactory = _ => "auto" };
        public Option<string> StepField { get; } = new("--step-field") { Description = "JSON Lines: the step's field.", DefaultValueFactory = _ => "step" };
        public Option<string> LearningRateField { get; } = new("--lr-field") { Description = "JSON Lines: the LR's field.", DefaultValueFactory = _ => "lr" };
        public Option<string> LossField { get; } = new("--loss-field") { Description = "JSON Lines: the loss's field.", DefaultValueFactory = _ => "loss" };
        public Option<string> LossTag { get; } = new("--loss-tag") { Description = "TensorBoard: the loss's scalar tag.", DefaultValueFactory = _ => "train/loss" };
        public Option<string> LearningRateTag { get; } = new("--lr-tag") { Description = "TensorBoard: the LR's scalar tag.", DefaultValueFactory = _ => "train/lr" };

        public IEnumerable<Option> All => [Format, StepField, LearningRateField, LossField, LossTag, LearningRateTag];

        public LogFormats Read(ParseResult parse)
        {
            string format = parse.GetValue(Format)!.Trim().ToLowerInvariant();
            if (!Names.Contains(format)) throw new ArgumentException($"--format {format}: expected {string.Join(", ", Names)}.");
            return new LogFormats(format, parse.GetValue(StepField)!, parse.GetValue(LearningRateField)!, parse.GetValue(LossField)!,
                parse.GetValue(LossTag)!, parse.GetValue(LearningRateTag)!);
        }
    }

    public static LogFormats Default { get; } = new("auto", "step", "lr", "loss", "train/loss", "train/lr");

    /// <summary>The format of <paramref name="path"/>: as asked, or guessed from its name and first character.</summary>
    public string Detect(string path)
    {
        if (Format != "auto") return Format;
        if (Directory.Exists(path) || Path.GetFileName(path).Contains("tfevents", StringComparison.Ordinal)) return "tensorboard";
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".jsonl" or ".ndjson") return "jsonl";
        if (extension == ".json") return "hf";
        return "csv";
    }

    /// <summary>
    /// A curve from a log of any format. Without <paramref name="schedule"/> the LR between logged steps is
    /// interpolated (and said so); with it, every step takes the schedule's LR, and an LR the log recorded that
    /// differs from it by more than 1% is refused with its place.
    /// </summary>
    public ObservedCurve Load(string path, Action<string> notice, SampledSchedule? schedule = null)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.");
        string format = Detect(path);
        string name = Path.GetFileNameWithoutExtension(path.TrimEnd(Path.DirectorySeparatorChar));
        if (format == "csv" && Directory.Exists(path)) throw new InvalidDataException($"{path} is a folder; a CSV log is a file (or pass --format tensorboard).");
        if (format == "csv" && schedule == null) return ObservedCurve.FromCsv(path, interpolateMissingSteps: true, notice: notice);
        var rows = format switch
        {
            "csv" => ObservedCurve.CsvRows(path, requireLearningRate: false, notice).ToList(),
            "jsonl" => JsonLines(path),
            "hf" => TrainerState(path),
            _ => TensorBoard(path, notice),
        };
        if (schedule != null)
        {
            var rates = schedule.LearningRates;
            foreach (var row in rows)
            {
                if (row.LearningRate is not double logged || row.Step >= rates.Length) continue;
                double given = rates[(int)row.Step];
                if (Math.Abs(logged - given) > 0.01 * Math.Max(Math.Abs(logged), Math.Abs(given)))
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{path}, {row.Where}: the log recorded an LR of {logged:G4} at step {row.Step}, the schedule gives {given:G4}."));
                }
            }
            return ObservedCurve.FromRows(path, rows, name, schedule, notice: notice);
        }
        if (rows.Count(r => r.LearningRate != null) < rows.Count) notice($"{path}: the LR is not logged at every step; it is interpolated linearly between the logged ones.");
        // A log whose first LR comes after step 0 (the Trainer logs every few steps) holds that rate back to step 0.
        var first = rows.FirstOrDefault(r => r.LearningRate != null);
        if (first != null && first.Step > 0)
        {
            notice(string.Create(CultureInfo.InvariantCulture, $"{path}: the first logged LR is at step {first.Step}; steps before it are taken at that rate (a warmup before it is not known)."));
            rows.Insert(0, new LogRow(0, first.LearningRate, null, "(start)"));
        }
        return ObservedCurve.FromRows(path, rows, name, interpolateMissingSteps: true, notice: notice);
    }

    /// <summary>
    /// The rows so far of a log that another process is still writing (<c>fsl watch</c>), in any format: a CSV or JSON
    /// Lines line without its newline is left for the next read (its last number may be cut); a trainer_state.json
    /// caught in the middle of being rewritten, an event folder with no event yet, or a torn last event record gives
    /// what was whole; and the last TensorBoard step waits while it has no loss yet (a step's scalars are separate
    /// records). A log with no row yet gives none.
    /// </summary>
    public IReadOnlyList<LogRow> FollowRows(string path) => Detect(path) switch
    {
        "csv" => ObservedCurve.CsvRows(path, requireLearningRate: false, skipUnfinishedLastLine: true),
        "jsonl" => JsonLines(path, skipUnfinishedLastLine: true),
        "hf" => TrainerState(path, following: true),
        _ => FollowTensorBoard(path),
    };

    private List<LogRow> FollowTensorBoard(string path)
    {
        var rows = TensorBoard(path, _ => { }, following: true);
        if (rows.Count > 0 && rows[^1].Loss == null) rows.RemoveAt(rows.Count - 1);
        return rows;
    }

    private List<LogRow> JsonLines(string path, bool skipUnfinishedLastLine = false)
    {
        var rows = new List<LogRow>();
        string text = File.ReadAllText(path);
        var lines = text.Split('\n');
        // Split leaves "" after a final newline; without one, the last element is a line still being written.
        int count = text.EndsWith('\n') || skipUnfinishedLastLine ? lines.Length - 1 : lines.Length;
        for (int i = 0; i < count; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            JsonElement item;
            try
            {
                item = JsonDocument.Parse(QuoteNonFinite(lines[i])).RootElement;
            }
            catch (JsonException e)
            {
                if (i == count - 1) break; // a torn last line
                throw new InvalidDataException($"{path}, line {i + 1}: not JSON ({e.Message}).");
            }
            if (item.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}, line {i + 1}: not a JSON object.");
            if (!item.TryGetProperty(StepField, out var step)) continue; // not a step record (e.g. an evaluation without a step)
            rows.Add(new LogRow(WholeNumber(step, path, $"line {i + 1}", StepField), Number(item, LearningRateField, path, $"line {i + 1}"),
                Number(item, LossField, path, $"line {i + 1}"), $"line {i + 1}"));
        }
        return rows;
    }

    private static List<LogRow> TrainerState(string path, bool following = false)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(QuoteNonFinite(File.ReadAllText(path))).RootElement;
        }
        catch (JsonException e)
        {
            // The Trainer rewrites the whole file at each save: a follower may read it half written, and whole at the next poll.
            if (following) return [];
            throw new InvalidDataException($"{path}: not JSON ({e.Message}).");
        }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("log_history", out var history) || history.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{path}: no log_history array (is it a Hugging Face trainer_state.json?).");
        }
        var rows = new List<LogRow>();
        int index = 0;
        foreach (var entry in history.EnumerateArray())
        {
            string where = $"log_history[{index++}]";
            // Evaluation and summary entries have no training loss.
            if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("loss", out _) || !entry.TryGetProperty("step", out var step)) continue;
            rows.Add(new LogRow(WholeNumber(step, path, where, "step"), Number(entry, "learning_rate", path, where), Number(entry, "loss", path, where), where));
        }
        return rows;
    }

    private List<LogRow> TensorBoard(string path, Action<string> notice, bool following = false)
    {
        var files = Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*tfevents*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList()
            : [path];
        if (files.Count == 0 && following) return [];
        if (files.Count == 0) throw new InvalidDataException($"{path}: no TensorBoard event files (events.out.tfevents.*) there.");
        var byStep = new SortedDictionary<long, (double? Lr, double? Loss, string Where)>();
        var tags = new HashSet<string>();
        int duplicates = 0;
        foreach (var file in files)
        {
            using var reader = new BinaryReader(File.OpenRead(file));
            int index = 0;
            while (reader.BaseStream.Length - reader.BaseStream.Position >= 12)
            {
                long length = reader.ReadInt64();
                reader.ReadUInt32();
                if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position - 4) break; // a torn last record
                var record = Tensorboard.Event.Parser.ParseFrom(reader.ReadBytes((int)length));
                reader.ReadUInt32();
                string where = $"{Path.GetFileName(file)} event {index++}";
                if (record.Summary == null) continue;
                foreach (var value in record.Summary.Value)
                {
                    tags.Add(value.Tag);
                    if (value.Tag != LossTag && value.Tag != LearningRateTag) continue;
                    byStep.TryGetValue(record.Step, out var row);
                    if (value.Tag == LossTag && row.Loss != null) duplicates++;
                    byStep[record.Step] = value.Tag == LossTag ? (row.Lr, value.SimpleValue, where) : (value.SimpleValue, row.Loss, row.Where ?? where);
                }
            }
        }
        if (following && tags.Count == 0) return []; // nothing written yet
        if (!tags.Contains(LossTag))
        {
            throw new InvalidDataException($"{path}: no scalar tagged '{LossTag}' (tags: {string.Join(", ", tags.Order().Take(20))}); choose one with --loss-tag.");
        }
        if (duplicates > 0) notice($"{path}: {duplicates} steps logged twice (a resumed run?); the values written last are used.");
        return byStep.Select(p => new LogRow(p.Key, p.Value.Lr, p.Value.Loss, p.Value.Where)).ToList();
    }

    // Python's json module writes NaN and Infinity bare, which JSON does not allow: read them as strings.
    private static string QuoteNonFinite(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json, @"(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,}\]])", "\"$1\"");

    private static long WholeNumber(JsonElement value, string path, string where, string field)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long number)) return number;
        throw new InvalidDataException($"{path}, {where}: {field} {value.GetRawText()} is not a whole number.");
    }

    private static double? Number(JsonElement item, string field, string path, string where)
    {
        if (!item.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        // NaN and Infinity are written as strings by Python's json module.
        if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed)) return parsed;
        throw new InvalidDataException($"{path}, {where}: {field} {value.GetRawText()} is not a number.");
    }
}
