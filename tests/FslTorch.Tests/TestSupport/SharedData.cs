using System.Globalization;
using FslTorch.Schedules;

namespace FslTorch.Tests.TestSupport;

/// <summary>The public loss curves in ../shared/data (beside the repository root), when present.</summary>
internal static class SharedData
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Folder => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));

    public static bool IsPresent => Directory.Exists(Path.Combine(Folder, "mpl")) && Directory.Exists(Path.Combine(Folder, "reference"));

    public const string MissingReason = "needs the public loss curves in ../shared/data beside the repository (CI has them; a user's clone does not)";

    public static string PathOf(params string[] parts) => Path.Combine([Folder, .. parts]);

    /// <summary>The per-step LR of an mpl/ run (schedules/schedule-&lt;run&gt;.csv).</summary>
    public static SampledSchedule MplSchedule(string run)
    {
        var rates = File.ReadLines(PathOf("mpl", "schedules", $"schedule-{run}.csv")).Skip(1)
            .Select(line => double.Parse(line.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
        return new SampledSchedule(rates);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FslTorch.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("FslTorch.sln not found above the test output folder.");
    }
}
