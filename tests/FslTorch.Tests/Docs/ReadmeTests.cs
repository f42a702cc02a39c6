using Xunit;

namespace FslTorch.Tests.Docs;

[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class ReadmeTests
{
    private static List<string> Normalise(IEnumerable<string> lines) =>
        lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal) && l != "}").ToList();

    [Fact]
    public void EveryCodeBlockOfTheReadmeIsCodeThatCompilesHere()
    {
        string root = TestSupport.SharedData.RepositoryRoot;
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        var documented = Blocks(readme, l => l.Trim() == "```csharp", l => l.Trim() == "```");
        var source = File.ReadAllLines(Path.Combine(root, "tests", "FslTorch.Tests", "Docs", "ReadmeExample.cs"));
        var compiled = Blocks(source, l => l.Contains("README:begin"), l => l.Contains("README:end"));
        Assert.True(documented.Count >= 3, "README.md has fewer C# blocks than expected");
        Assert.Equal(documented.Count, compiled.Count);
        for (int i = 0; i < documented.Count; i++) Assert.Equal(Normalise(compiled[i]), Normalise(documented[i]));
        Assert.Contains("using FslTorch.Schedules;", documented[0]);
    }

    private static List<string[]> Blocks(string[] lines, Func<string, bool> open, Func<string, bool> close)
    {
        var blocks = new List<string[]>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!open(lines[i])) continue;
            int end = Array.FindIndex(lines, i + 1, l => close(l));
            blocks.Add(lines[(i + 1)..end]);
            i = end;
        }
        return blocks;
    }

    [Fact]
    public void TheUsageExampleRunsAndEndsItsCooldown()
    {
        var (first, last, lastRate) = ReadmeExample.Run();
        Assert.True(last < first, $"loss {first} -> {last}");
        Assert.Equal(0, lastRate); // after step 999 the scheduler applied step 1000's rate: the end of the decay
    }
}
