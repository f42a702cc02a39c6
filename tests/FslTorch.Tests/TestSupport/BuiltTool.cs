using System.Diagnostics;

namespace FslTorch.Tests.TestSupport;

/// <summary>Runs a tool or sample built next to the tests (its dll) with `dotnet`, as a user would.</summary>
internal static class BuiltTool
{
    public static (int ExitCode, string Output, string Error) Run(string dll, TimeSpan timeout, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null) => Run(dll, timeout, arguments, environment, onOutputLine: null);

    /// <summary>As <see cref="Run(string, TimeSpan, IReadOnlyList{string}, IReadOnlyDictionary{string, string}?)"/>, calling <paramref name="onOutputLine"/> with each line of standard output as it comes.</summary>
    public static (int ExitCode, string Output, string Error) Run(string dll, TimeSpan timeout, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment, Action<string>? onOutputLine)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = Task.Run(() =>
        {
            var text = new System.Text.StringBuilder();
            while (process.StandardOutput.ReadLine() is string line)
            {
                text.Append(line).Append('\n');
                onOutputLine?.Invoke(line);
            }
            return text.ToString();
        });
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dll} {string.Join(' ', arguments)} did not finish in {timeout.TotalMinutes:F0} minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
