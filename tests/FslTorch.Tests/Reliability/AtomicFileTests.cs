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
            // A temporary file left by a kill in an earlier write is simply replaced.
            File.WriteAllText(path + ".tmp", "torn");
            AtomicFile.WriteAllText(path, "{\"c\": 3}");
            Assert.Equal("{\"c\": 3}", File.ReadAllText(path));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
