namespace FslTorch.Tests.TestSupport;

/// <summary>The small texts the TinyGpt tests train on: paragraphs of 30 words drawn (seed 1) from a word list.</summary>
internal static class TestProse
{
    public static void Write(string path, IReadOnlyList<string> words, int paragraphs, bool fullStop = true)
    {
        var random = new Random(1);
        File.WriteAllText(path, string.Join("\n\n", Enumerable.Range(0, paragraphs)
            .Select(_ => string.Join(' ', Enumerable.Range(0, 30).Select(_ => words[random.Next(words.Count)])) + (fullStop ? "." : ""))));
    }
}
