using System.Globalization;

namespace TinyGptEvidence;

/// <summary>The TinyGpt flags every evidence run of a command shares (model preset, budget, seed, threads, data).</summary>
public static class RunArguments
{
    /// <summary>
    /// <c>--preset P --steps N --seed S --threads T [--data PATH]</c> followed by <paramref name="more"/> (flags given
    /// later override the preset's, e.g. <c>--width</c>).
    /// </summary>
    public static List<string> Of(string preset, long steps, long seed, int threads, string? data, params string[] more)
    {
        List<string> arguments = ["--preset", preset, "--steps", steps.ToString(CultureInfo.InvariantCulture),
            "--seed", seed.ToString(CultureInfo.InvariantCulture), "--threads", threads.ToString(CultureInfo.InvariantCulture)];
        if (data != null) arguments.AddRange(["--data", Path.GetFullPath(data)]);
        arguments.AddRange(more);
        return arguments;
    }
}
