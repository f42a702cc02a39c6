using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Tools;

/// <summary>The live benchmark's command line (its scoring is in LiveForecastScoreTests, its replay in LiveReplayTests).</summary>
public sealed class LiveCommandTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("live-command-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Theory]
    [InlineData("--lr 2e-3 --steps 500", "--steps")]
    [InlineData("--seed 4", "--seed")]
    [InlineData("--data other.txt", "--data")]
    public void ARecipeMayNotSetWhatTheBenchmarkSetsItself(string recipe, string flag)
    {
        var (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1),
            ["live", "--out", Path.Combine(_folder.FullName, "live"), "--steps", "100", "--tinygpt-args", recipe]);
        Assert.Equal(2, code);
        Assert.Contains($"--tinygpt-args: {flag} is set by this command.", stdout + error);
        Assert.Empty(Directory.GetFileSystemEntries(_folder.FullName));
    }
}
