using FslTorch.Tests.TestSupport;

namespace FslTorch.Tests.Cli;

/// <summary>Runs the built `fsl` tool (copied next to the tests) as a user would.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Output, string Error) Run(params string[] arguments) =>
        BuiltTool.Run("fsl.dll", TimeSpan.FromMinutes(2), arguments);
}
