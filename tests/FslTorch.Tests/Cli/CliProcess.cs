using System.Diagnostics;

namespace FslTorch.Tests.Cli;

/// <summary>Runs the built `fsl` tool (copied next to the tests) as a user would.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Output, string Error) Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "fsl.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"fsl {string.Join(' ', arguments)} did not finish in two minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
