using System.Diagnostics;
using TinyGpt;

namespace TinyGptEvidence;

/// <summary>
/// Runs TinyGpt as child processes, one run folder each under <paramref name="root"/>. A run with a summary.json
/// counts as done and is not repeated; one interrupted after a checkpoint is resumed; so the whole evidence run
/// can be stopped and restarted. Each run folder keeps the TinyGpt flags it was started with (arguments.txt); a
/// folder started with other flags is refused rather than reused (a benchmark never mixes recipes unawares).
/// </summary>
public sealed class TrainingRuns(string root, TextWriter progress)
{
    private readonly string _tinyGpt = Path.Combine(AppContext.BaseDirectory, "TinyGpt.dll");

    /// <summary>The run folder of a run name.</summary>
    public string Folder(string name) => Path.Combine(root, name);

    /// <summary>Runs (or resumes, or reuses) one TinyGpt run and returns its summary.</summary>
    public RunSummary Run(string name, IReadOnlyList<string> arguments)
    {
        string folder = Folder(name), summary = Path.Combine(folder, "summary.json"), recorded = Path.Combine(folder, "arguments.txt");
        if (File.Exists(recorded) && File.ReadAllLines(recorded) is var earlier && !earlier.SequenceEqual(arguments))
        {
            throw new InvalidOperationException(
                $"{name}: {folder} holds a run started with other TinyGpt flags ({string.Join(' ', earlier)}) than these ({string.Join(' ', arguments)}); use another --out.");
        }
        if (File.Exists(summary))
        {
            progress.WriteLine($"{name}: done earlier");
            return RunSummary.Read(summary);
        }
        List<string> command;
        if (new TinyGpt.RunFolder(folder).ResumableCheckpoint() != null && File.Exists(Path.Combine(folder, "config.json")))
        {
            command = ["--resume", folder];
        }
        else
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            command = [.. arguments, "--out", folder];
        }
        Directory.CreateDirectory(folder);
        if (!File.Exists(recorded)) File.WriteAllLines(recorded, arguments);
        progress.WriteLine($"{name}: tinygpt {string.Join(' ', command)}");
        var clock = Stopwatch.StartNew();
        int code = Execute(command, Path.Combine(folder, "run.log"));
        if (code != 0 || !File.Exists(summary))
        {
            var tail = File.ReadLines(Path.Combine(folder, "run.log")).TakeLast(10);
            throw new InvalidOperationException($"{name}: TinyGpt exited with {code}:\n{string.Join('\n', tail)}");
        }
        var result = RunSummary.Read(summary);
        progress.WriteLine($"{name}: final eval loss {result.FinalEvalLoss:F4} ({clock.Elapsed.TotalSeconds:F0} s)");
        return result;
    }

    private int Execute(IReadOnlyList<string> arguments, string logFile)
    {
        if (!File.Exists(_tinyGpt)) throw new FileNotFoundException($"{_tinyGpt}: TinyGpt is not built beside this tool.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(_tinyGpt);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        using var process = new Process { StartInfo = start };
        var gate = new Lock();
        void Write(object _, DataReceivedEventArgs e)
        {
            if (e.Data == null) return;
            lock (gate) log.WriteLine(e.Data);
        }
        process.OutputDataReceived += Write;
        process.ErrorDataReceived += Write;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        return process.ExitCode;
    }
}
