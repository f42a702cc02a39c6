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

    [Theory]
    [InlineData(new[] { "--replay-refined-starts", "2" }, "--replay-refined-starts goes with --replay (not with --replay-control).")]
    [InlineData(new[] { "--replay", "--replay-control", "--replay-refined-starts", "2" }, "--replay-refined-starts goes with --replay (not with --replay-control).")]
    [InlineData(new[] { "--replay", "--replay-refined-starts", "0" }, "--replay-refined-starts must be >= 1.")]
    [InlineData(new[] { "--replay-borrow-probes" }, "--replay-borrow-probes goes with --replay (not with --replay-control).")]
    [InlineData(new[] { "--replay", "--replay-control", "--replay-borrow-probes" }, "--replay-borrow-probes goes with --replay (not with --replay-control).")]
    [InlineData(new[] { "--replay-law", "mpl" }, "--replay-law goes with --replay (not with --replay-control).")]
    [InlineData(new[] { "--replay", "--replay-law", "mpl2" }, "--replay-law: unknown law 'mpl2'")]
    public void ReplayOnlyChoicesAreRefusedOutsideAForecastReplay(string[] flags, string message)
    {
        var (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1),
            ["live", "--out", Path.Combine(_folder.FullName, "live"), "--steps", "100", .. flags]);
        Assert.Equal(2, code);
        Assert.Contains(message, stdout + error);
        Assert.Empty(Directory.GetFileSystemEntries(_folder.FullName));
    }

    [Fact]
    public void AFinishedRunIsReusedOnlyWithTheFlagsItWasStartedWith()
    {
        string text = Path.Combine(_folder.FullName, "text.txt"), output = Path.Combine(_folder.FullName, "live");
        TestProse.Write(text, ["a", "rate", "of", "loss", "falls", "over", "time", "while", "the", "model", "learns"], 300);
        string[] Live(string recipe) => ["live", "--out", output, "--steps", "100", "--seeds", "1", "--schedules", "wsd:0.2", "--corpus", $"prose={text}",
            "--tinygpt-args", $"--preset tiny --width 16 --refit-every 10 {recipe}"];
        var (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(3), Live("--lr 6e-3"));
        Assert.True(code == 0, stdout + error);
        (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), Live("--lr 6e-3"));
        Assert.True(code == 0, stdout + error);
        Assert.Contains("prose-seed1-wsd-0.2: done earlier", stdout);

        // A replay with another law forecasts with that law (every replayed forecast names it), and says so; the momentum law,
        // which has no built-in prior, forecasts without the default law's prior (with it, every fit failed).
        (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), [.. Live("--lr 6e-3"), "--replay", "--replay-law", "momentum"]);
        Assert.True(code == 0, stdout + error);
        var laws = File.ReadLines(Path.Combine(output, "prose-seed1-wsd-0.2", "replay-forecasts.jsonl"))
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("law").GetString()).ToList();
        Assert.NotEmpty(laws);
        Assert.All(laws, law => Assert.Equal("momentum", law));
        Assert.Contains("law momentum", File.ReadAllText(Path.Combine(output, "replay.md")));

        (code, stdout, error) = BuiltTool.Run("tinygpt-evidence.dll", TimeSpan.FromMinutes(1), Live("--lr 2e-3"));
        Assert.Equal(2, code);
        Assert.Contains("started with other TinyGpt flags", error);
        Assert.DoesNotContain("   at ", stdout + error);
    }
}
