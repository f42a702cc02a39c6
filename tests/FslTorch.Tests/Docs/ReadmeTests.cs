using Xunit;

namespace FslTorch.Tests.Docs;

[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class ReadmeTests
{
    private static List<string> Normalise(IEnumerable<string> lines) =>
        lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal) && l != "}").ToList();

    [Fact]
    public void TheUsageExampleIsTheCodeThatCompilesHere()
    {
        string root = TestSupport.SharedData.RepositoryRoot;
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        int open = Array.FindIndex(readme, l => l.Trim() == "```csharp");
        Assert.True(open >= 0, "README.md has no ```csharp block");
        int close = Array.FindIndex(readme, open + 1, l => l.Trim() == "```");
        var documented = Normalise(readme[(open + 1)..close]);

        var source = File.ReadAllLines(Path.Combine(root, "tests", "FslTorch.Tests", "Docs", "ReadmeExample.cs"));
        int begin = Array.FindIndex(source, l => l.Contains("README:begin"));
        int end = Array.FindIndex(source, l => l.Contains("README:end"));
        var compiled = Normalise(source[(begin + 1)..end]);

        Assert.Equal(compiled, documented);
        Assert.Contains("using FslTorch.Schedules;", readme[(open + 1)..close]);
    }

    [Fact]
    public void TheUsageExampleRunsAndEndsItsCooldown()
    {
        var (first, last, lastRate) = ReadmeExample.Run();
        Assert.True(last < first, $"loss {first} -> {last}");
        Assert.Equal(0, lastRate); // after step 999 the scheduler applied step 1000's rate: the end of the decay
    }
}
