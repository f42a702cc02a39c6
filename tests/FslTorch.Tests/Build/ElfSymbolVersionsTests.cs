using System.Runtime.InteropServices;
using FslTorch.Build;
using Xunit;

namespace FslTorch.Tests.Build;

/// <summary>
/// The build's libstdc++ compatibility step (build/ElfSymbolVersions.cs), checked on the real
/// libLibTorchSharp.so that the build placed next to these tests.
/// </summary>
public sealed class ElfSymbolVersionsTests
{
    private const string NewVersion = "GLIBCXX_3.4.32";

    private static string OutputLibrary =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", $"linux-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}",
            "native", "libLibTorchSharp.so");

    private static byte[] ReadLibrary()
    {
        Assert.True(OperatingSystem.IsLinux(), "these tests read Linux ELF files");
        Assert.True(File.Exists(OutputLibrary), $"{OutputLibrary} is missing from the test output");
        return File.ReadAllBytes(OutputLibrary);
    }

    [Fact]
    public void TheOnlySymbolOfTheNewVersionIsUnreferenced()
    {
        var requirement = ElfSymbolVersions.ReadRequirements(ReadLibrary()).Single(r => r.Version == NewVersion);
        Assert.Equal(SystemLibStdCxx.SoName, requirement.File);
        Assert.Equal(["_ZSt21ios_base_library_initv"], requirement.Symbols);
        Assert.Empty(requirement.RelocatedSymbols);
    }

    [Fact]
    public void OtherRequirementsHaveSymbolsAndRelocations()
    {
        // Guards the relocation scan itself: versions the library really uses must show relocated symbols.
        var requirements = ElfSymbolVersions.ReadRequirements(ReadLibrary());
        var baseVersion = requirements.Single(r => r.Version == "GLIBCXX_3.4");
        Assert.NotEmpty(baseVersion.RelocatedSymbols);
        Assert.Contains(requirements, r => r.File == "libc.so.6" && r.RelocatedSymbols.Count > 0);
    }

    [Fact]
    public void TheOutputCopyIsWeakExactlyWhenTheSystemLacksTheVersion()
    {
        string? system = SystemLibStdCxx.Locate();
        Assert.NotNull(system);
        bool systemHasIt = ElfSymbolVersions.ReadDefinedVersions(File.ReadAllBytes(system)).Contains(NewVersion);
        var requirements = ElfSymbolVersions.ReadRequirements(ReadLibrary());
        Assert.Equal(!systemHasIt, requirements.Single(r => r.Version == NewVersion).IsWeak);
        Assert.All(requirements.Where(r => r.Version != NewVersion), r => Assert.False(r.IsWeak, r.Version));
    }

    [Fact]
    public void TheSystemLibStdCxxDefinesTheBaseVersions()
    {
        var defined = ElfSymbolVersions.ReadDefinedVersions(File.ReadAllBytes(SystemLibStdCxx.Locate()!));
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
        Assert.DoesNotContain("GLIBCXX_9.9.99", defined);
    }

    [Fact]
    public void MarkingWeakSetsOneFlagBitAndIsIdempotent()
    {
        var image = ReadLibrary();
        var original = (byte[])image.Clone();
        var target = ElfSymbolVersions.ReadRequirements(image).Single(r => r.Version == NewVersion);
        ElfSymbolVersions.MarkWeak(image, target);
        var once = (byte[])image.Clone();
        ElfSymbolVersions.MarkWeak(image, target);
        Assert.Equal(once, image);

        var changed = Enumerable.Range(0, image.Length).Where(i => image[i] != original[i]).ToList();
        Assert.True(changed.All(i => i == target.FlagsOffset), "only the vna_flags field may change");
        var after = ElfSymbolVersions.ReadRequirements(image);
        Assert.True(after.Single(r => r.Version == NewVersion).IsWeak);
        Assert.Equal(
            ElfSymbolVersions.ReadRequirements(original).Where(r => r.Version != NewVersion).Select(r => (r.Version, r.Flags)),
            after.Where(r => r.Version != NewVersion).Select(r => (r.Version, r.Flags)));
    }

    [Fact]
    public void NonElfInputIsRecognisedAndRejected()
    {
        var notElf = new byte[128];
        Assert.False(ElfSymbolVersions.IsSupported(notElf));
        Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.ReadRequirements(notElf));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void ReplacingAHardLinkedOrSymlinkedOutputLeavesTheFileItPointsToUnchanged()
    {
        Assert.True(OperatingSystem.IsLinux(), "hard links are created with libc's link()");
        string dir = Directory.CreateTempSubdirectory("fsltorch-elf-").FullName;
        try
        {
            string cache = Path.Combine(dir, "cache.so");
            byte[] original = [1, 2, 3, 4];
            File.WriteAllBytes(cache, original);
            File.SetUnixFileMode(cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var stamp = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(cache, stamp);
            string hard = Path.Combine(dir, "hard.so");
            Assert.True(Link(cache, hard) == 0, $"link() failed with errno {Marshal.GetLastPInvokeError()}");
            string soft = Path.Combine(dir, "soft.so");
            File.CreateSymbolicLink(soft, cache);

            ElfSymbolVersions.ReplaceFile(hard, [9, 9]);
            ElfSymbolVersions.ReplaceFile(soft, [8]);

            Assert.Equal(original, File.ReadAllBytes(cache));
            Assert.Equal([9, 9], File.ReadAllBytes(hard));
            Assert.Equal([8], File.ReadAllBytes(soft));
            Assert.Null(new FileInfo(soft).LinkTarget);
            Assert.Equal(File.GetUnixFileMode(cache), File.GetUnixFileMode(hard));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(hard));
            Assert.Equal(["cache.so", "hard.so", "soft.so"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);

    [Fact]
    public void ThePackageCacheCopyIsNeverModified()
    {
        string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cached = Directory.Exists(home)
            ? Directory.EnumerateFiles(home, "libLibTorchSharp.so", SearchOption.AllDirectories).ToList()
            : [];
        Assert.NotEmpty(cached);
        foreach (var path in cached)
        {
            var requirement = ElfSymbolVersions.ReadRequirements(File.ReadAllBytes(path)).SingleOrDefault(r => r.Version == NewVersion);
            Assert.True(requirement is null || !requirement.IsWeak, $"{path} was modified");
        }
    }
}
