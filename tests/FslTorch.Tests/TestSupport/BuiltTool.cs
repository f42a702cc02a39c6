using System.Diagnostics;

namespace FslTorch.Tests.TestSupport;

/// <summary>Runs a tool or sample built next to the tests (its dll) with `dotnet`, as a user would.</summary>
internal static class BuiltTool
{
    public static (int ExitCode, string Output, string Error) Run(string dll, TimeSpan timeout, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dll} {string.Join(' ', arguments)} did not finish in {timeout.TotalMinutes:F0} minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
