using Xunit;

namespace FslTorch.Tests.Reliability;

public sealed class AtomicFileTests
{
    [Fact]
    public void AFileIsReplacedWholeAndNoTemporaryFileIsLeft()
    {
        var folder = Directory.CreateTempSubdirectory("fsltorch-atomic-");
        try
        {
            string path = Path.Combine(folder.FullName, "state.json");
            AtomicFile.WriteAllText(path, "{\"a\": 1}");
            AtomicFile.WriteAllText(path, "{\"b\": 2}");
            Assert.Equal("{\"b\": 2}", File.ReadAllText(path));
            Assert.Equal(["state.json"], Directory.EnumerateFiles(folder.FullName).Select(Path.GetFileName));
            // A temporary file left by a kill in an earlier write does not touch the next one.
            File.WriteAllText(path + ".0123.tmp", "torn");
            AtomicFile.WriteAllText(path, "{\"c\": 3}");
            Assert.Equal("{\"c\": 3}", File.ReadAllText(path));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void WritersOfOneFileInSeveralThreadsEachLeaveAWholeFile()
    {
        // Twelve benchmark processes sharing a results folder once failed here: they all wrote live.json through the same
        // temporary file, and a rename found it gone.
        var folder = Directory.CreateTempSubdirectory("fsltorch-atomic-");
        try
        {
            string path = Path.Combine(folder.FullName, "live.json");
            var texts = Enumerable.Range(0, 8).Select(writer => new string((char)('a' + writer), 20_000)).ToArray();
            Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = texts.Length }, writer =>
            {
                for (int i = 0; i < 200; i++) AtomicFile.WriteAllText(path, texts[writer]);
            });
            Assert.Contains(File.ReadAllText(path), texts);
            Assert.Equal(["live.json"], Directory.EnumerateFiles(folder.FullName).Select(Path.GetFileName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void AWriteThatCannotBeMadeReportsItsOwnError()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fsltorch-atomic-missing-{Guid.NewGuid():N}");
        var error = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(Path.Combine(folder, "state.json"), "{}"));
        Assert.Contains(folder, error.Message);
        Assert.False(Directory.Exists(folder));
    }
}
