using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using FslTorch.Tests.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace FslTorch.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: FslTorch packed into a local feed and installed into a fresh console app
/// with TorchSharp-cpu (the README's usage code, compiled and run there), and the fsl tool packed and installed.
/// </summary>
public sealed class PackageTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsltorch-package-");
    // A version of its own, so that the user's NuGet cache never serves an older build of the same version.
    private readonly string _version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";

    public void Dispose()
    {
        _folder.Delete(recursive: true);
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "fsltorch", "fsltorch.cli" })
        {
            string cached = Path.Combine(cache, id, _version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }

    private (int Code, string Output) Dotnet(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish in 5 minutes.");
        }
        string text = stdout.Result + stderr.Result;
        output.WriteLine($"dotnet {string.Join(' ', arguments)} -> {process.ExitCode}");
        return (process.ExitCode, text);
    }

    private string Pack(string project)
    {
        string feed = Path.Combine(_folder.FullName, "feed");
        var (code, text) = Dotnet(SharedData.RepositoryRoot, "pack", project, "-c", "Release", "--no-build", "-o", feed, $"-p:MinVerVersionOverride={_version}");
        Assert.True(code == 0, text);
        return feed;
    }

    [Fact]
    public void TheLibraryPackageInstallsIntoAFreshAppThatTrainsWithTheReadmeCode()
    {
        string feed = Pack("src/FslTorch/FslTorch.csproj");
        string package = Path.Combine(feed, $"FslTorch.{_version}.nupkg");
        Assert.True(File.Exists(Path.Combine(feed, $"FslTorch.{_version}.snupkg")), "no symbols package");
        using (var zip = ZipFile.OpenRead(package))
        {
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            foreach (var expected in new[] { "LICENSE", "PACKAGE.md", "lib/net10.0/FslTorch.dll", "lib/net10.0/FslTorch.xml", "buildTransitive/FslTorch.targets", "buildTransitive/ElfSymbolVersions.cs" })
            {
                Assert.Contains(expected, names);
            }
            using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
            Assert.Equal("MIT", Field("license"));
            Assert.Equal("PACKAGE.md", Field("readme"));
            Assert.Equal(_version, Field("version"));
            // Only the library's own dependencies (no centrally pinned transitive packages such as SkiaSharp).
            var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).Order().ToList();
            Assert.Equal(["MathNet.Numerics", "Microsoft.Extensions.Logging.Abstractions", "System.Numerics.Tensors", "TorchSharp"], dependencies);
        }

        // A fresh console app: FslTorch from the feed, TorchSharp-cpu from NuGet, the README's usage code as Program.cs.
        string app = Directory.CreateDirectory(Path.Combine(_folder.FullName, "app")).FullName;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="FslTorch" Version="{_version}" />
                <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
              </ItemGroup>
            </Project>
            """);
        // The app's folder is outside the repository, so none of the repository's build files apply to it.
        var readme = File.ReadAllLines(Path.Combine(SharedData.RepositoryRoot, "README.md"));
        int open = Array.FindIndex(readme, l => l.Trim() == "```csharp");
        int close = Array.FindIndex(readme, open + 1, l => l.Trim() == "```");
        File.WriteAllLines(Path.Combine(app, "Program.cs"), [.. readme[(open + 1)..close],
            "Console.WriteLine(FormattableString.Invariant($\"trained with lr {scheduler.CurrentLearningRate} after the cooldown\"));"]);
        var (code, text) = Dotnet(app, "run", "-c", "Release");
        Assert.True(code == 0, text);
        Assert.Contains("trained with lr 0 after the cooldown", text);
    }

    [Fact]
    public void TheFslToolPackageCarriesNoNativeLibrariesAndRunsOnceInstalled()
    {
        string feed = Pack("tools/FslTorch.Cli/FslTorch.Cli.csproj");
        string package = Path.Combine(feed, $"FslTorch.Cli.{_version}.nupkg");
        Assert.True(new FileInfo(package).Length < 10_000_000, $"the tool package is {new FileInfo(package).Length:N0} bytes");
        using (var zip = ZipFile.OpenRead(package))
        {
            var natives = zip.Entries.Select(e => e.FullName).Where(n => n.Contains("/native/", StringComparison.Ordinal) || n.Contains("libtorch", StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.Empty(natives);
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        }
        string tools = Path.Combine(_folder.FullName, "tools");
        var (code, text) = Dotnet(_folder.FullName, "tool", "install", "--tool-path", tools, "--add-source", feed, "FslTorch.Cli", "--version", _version);
        Assert.True(code == 0, text);

        // The installed fsl fits a curve (no libtorch needed).
        string curve = Path.Combine(_folder.FullName, "curve.csv");
        File.WriteAllLines(curve, ["step,lr,loss", .. Enumerable.Range(0, 600).Select(k => FormattableString.Invariant($"{k},0.001,{2 + 3 / Math.Sqrt(1 + 0.01 * k)}"))]);
        var start = new ProcessStartInfo(Path.Combine(tools, "fsl")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "fit", "--curves", curve, "--out", Path.Combine(_folder.FullName, "p.json") }) start.ArgumentList.Add(argument);
        using var fsl = Process.Start(start)!;
        string result = fsl.StandardOutput.ReadToEnd() + fsl.StandardError.ReadToEnd();
        Assert.True(fsl.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.True(fsl.ExitCode == 0, result);
        Assert.True(File.Exists(Path.Combine(_folder.FullName, "p.json")), result);
    }
}
