using System.Text;
using TinyGpt;
using Xunit;

namespace FslTorch.Tests.Samples;

/// <summary>TinyGpt's corpus: held-out documents spread over the text, byte and cl100k tokens.</summary>
public sealed class TextCorpusTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("corpus-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Paragraphs(int count)
    {
        var paragraphs = Enumerable.Range(0, count).Select(i => $"Paragraph {i}: the learning rate decays while the loss keeps falling, slowly.");
        string path = Path.Combine(_folder.FullName, "text.txt");
        File.WriteAllText(path, string.Join("\n\n", paragraphs));
        return path;
    }

    [Fact]
    public void BytesHoldOutEveryTwentiethParagraph()
    {
        var corpus = TextCorpus.Load(Paragraphs(100), "bytes", minimumTokens: 100);
        Assert.Equal(256, corpus.VocabularySize);
        string heldOut = Encoding.UTF8.GetString(corpus.HeldOut.Select(t => (byte)t).ToArray());
        // Paragraphs 10, 30, 50, 70, 90 are held out: spread over the text, not its tail.
        Assert.Equal(["Paragraph 10:", "Paragraph 30:", "Paragraph 50:", "Paragraph 70:", "Paragraph 90:"],
            heldOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf(':')] + ":"));
        Assert.DoesNotContain("Paragraph 30:", Encoding.UTF8.GetString(corpus.Train.Select(t => (byte)t).ToArray()));
    }

    [Fact]
    public void Cl100kTokensAreRenumberedDenselyOverTheIdsThatOccur()
    {
        string path = Paragraphs(100);
        var bytes = TextCorpus.Load(path, "bytes", minimumTokens: 100);
        var tokens = TextCorpus.Load(path, "cl100k", minimumTokens: 100);
        int[] all = [.. tokens.Train, .. tokens.HeldOut];
        Assert.True(all.Length < (bytes.Train.Length + bytes.HeldOut.Length) / 2, "cl100k should need far fewer tokens than bytes");
        // Every id in [0, V) occurs and nothing outside it: a small, dense vocabulary.
        Assert.Equal(Enumerable.Range(0, tokens.VocabularySize), all.Distinct().Order());
        Assert.InRange(tokens.VocabularySize, 20, 400);
    }

    [Fact]
    public void UnknownTokenizerAndTooLittleTextAreClearErrors()
    {
        Assert.Contains("expected bytes or cl100k", Assert.Throws<ArgumentException>(() => TextCorpus.Load(Paragraphs(100), "words", 100)).Message);
        Assert.Contains("too little", Assert.Throws<InvalidDataException>(() => TextCorpus.Load(Paragraphs(3), "cl100k", 10_000)).Message);
    }
}
