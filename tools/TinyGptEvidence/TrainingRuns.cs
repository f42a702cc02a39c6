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
        string folder = Folder(name), summary = Path.Combine(folder, "summary.json");
        CheckArguments(name, arguments);
        if (File.Exists(summary))
        {
            progress.WriteLine($"{name}: done earlier");
            return RunSummary.Read(summary);
        }
        var clock = Stopwatch.StartNew();
        Train(name, arguments, []);
        if (!File.Exists(summary)) throw Failed(name, 0);
        var result = RunSummary.Read(summary);
        progress.WriteLine($"{name}: final eval loss {result.FinalEvalLoss:F4} ({clock.Elapsed.TotalSeconds:F0} s)");
        return result;
    }

    /// <summary>
    /// Trains one TinyGpt run (started afresh, or resumed from its checkpoint) until it has taken <paramref name="steps"/>
    /// steps, and leaves it there, resumable (<c>--stop-at</c>): a sweep that advances its runs together takes each one
    /// stretch at a time. A run that has already got that far, or has finished, is left as it is.
    /// </summary>
    public void RunUntil(string name, IReadOnlyList<string> arguments, long steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        string folder = Folder(name);
        CheckArguments(name, arguments);
        if (File.Exists(Path.Combine(folder, "summary.json"))
            || new TinyGpt.RunFolder(folder).ResumableCheckpoint() is string checkpoint && TinyGpt.RunFolder.NextStep(checkpoint) >= steps) return;
        Train(name, arguments, ["--stop-at", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    }

    // A folder holding a run started with other flags is refused rather than reused.
    private void CheckArguments(string name, IReadOnlyList<string> arguments)
    {
        string recorded = Path.Combine(Folder(name), "arguments.txt");
        if (File.Exists(recorded) && File.ReadAllLines(recorded) is var earlier && !earlier.SequenceEqual(arguments))
        {
            throw new InvalidOperationException(
                $"{name}: {Folder(name)} holds a run started with other TinyGpt flags ({string.Join(' ', earlier)}) than these ({string.Join(' ', arguments)}); use another --out.");
        }
    }

    // Starts the run, or resumes it from its checkpoint, with `extra` flags for this invocation only.
    private void Train(string name, IReadOnlyList<string> arguments, IReadOnlyList<string> extra)
    {
        string folder = Folder(name), recorded = Path.Combine(folder, "arguments.txt");
        List<string> command;
        if (new TinyGpt.RunFolder(folder).ResumableCheckpoint() != null && File.Exists(Path.Combine(folder, "config.json")))
        {
            command = ["--resume", folder, .. extra];
        }
        else
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            command = [.. arguments, "--out", folder, .. extra];
        }
        Directory.CreateDirectory(folder);
        if (!File.Exists(recorded)) File.WriteAllLines(recorded, arguments);
        progress.WriteLine($"{name}: tinygpt {string.Join(' ', command)}");
        int code = Execute(command, Path.Combine(folder, "run.log"));
        if (code != 0) throw Failed(name, code);
    }

    private InvalidOperationException Failed(string name, int code)
    {
        var tail = File.ReadLines(Path.Combine(Folder(name), "run.log")).TakeLast(10);
        return new InvalidOperationException($"{name}: TinyGpt exited with {code}:\n{string.Join('\n', tail)}");
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
