using System.Globalization;

namespace FslTorch.Schedules;

/// <summary>Argument checks shared by every factory: each names the parameter and the allowed range.</summary>
internal static class Guard
{
    public static double NonNegative(double value, string name) =>
        double.IsFinite(value) && value >= 0 ? value : throw Fail(name, "a finite number >= 0", value);

    public static double Positive(double value, string name) =>
        double.IsFinite(value) && value > 0 ? value : throw Fail(name, "a finite number > 0", value);

    /// <summary>Positive, where +∞ is allowed (an uncapped bound).</summary>
    public static double PositiveOrInfinity(double value, string name) =>
        value > 0 && !double.IsNaN(value) ? value : throw Fail(name, "a number > 0 (or +infinity)", value);

    public static double InRange(double value, double min, double max, string name) =>
        double.IsFinite(value) && value >= min && value <= max
            ? value
            : throw Fail(name, $"a finite number in [{Format(min)}, {Format(max)}]", value);

    public static long NonNegative(long value, string name) =>
        value >= 0 ? value : throw Fail(name, "an integer >= 0", value);

    public static long Positive(long value, string name) =>
        value > 0 ? value : throw Fail(name, "an integer >= 1", value);

    public static long InRange(long value, long min, long max, string name) =>
        value >= min && value <= max ? value : throw Fail(name, $"an integer in [{min}, {max}]", value);

    public static void Step(long step)
    {
        if (step < 0) throw Fail(nameof(step), "a zero-based step >= 0", step);
    }

    private static ArgumentOutOfRangeException Fail(string name, string allowed, object actual) =>
        new(name, actual, $"{name} must be {allowed}; got {Format(actual)}.");

    private static string Format(object value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null";
}
