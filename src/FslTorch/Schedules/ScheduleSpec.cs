using System.Globalization;

namespace FslTorch.Schedules;

/// <summary>
/// The text form of a schedule, <c>kind:key=value,key=value,…</c>, for command lines and config files
/// (<see cref="Schedule.Parse(string)"/>). Keys (steps are whole numbers, rates and fractions decimals):
/// <list type="bullet">
/// <item><c>constant:peak=η[,warmup=W][,warmup_from=w]</c></item>
/// <item><c>cosine:peak=η,total=N[,warmup=W][,final=f]</c>: cosine from η to f·η over the steps after the warmup.</item>
/// <item><c>wsd:peak=η,total=N,decay=F|decay_start=D[,warmup=W][,warmup_from=w][,shape=linear|cosine|1-sqrt|geometric|power(q)][,final=f]</c>:
/// the last fraction F of the steps decays (or from step D on) to f·η.</item>
/// <item><c>exponential:peak=η,rate=r[,every=S][,warmup=W][,warmup_from=w][,floor=f]</c>: η·r^(k/S) after the warmup, never below f·η.</item>
/// <item><c>power:peak=η,total=N,exponent=q</c>: η·(1 − k/N)^q, zero from N.</item>
/// <item><c>8-1-1:peak=η,total=N</c>: ÷√10 at 80% and 90% of N.</item>
/// </list>
/// Warmups are linear from w·η (<c>warmup_from</c>, 0 by default; the cosine's from 0); <c>final</c>, <c>floor</c> default to 0.
/// </summary>
internal static class ScheduleSpec
{
    private static readonly Dictionary<string, string[]> Keys = new()
    {
        ["constant"] = ["peak", "warmup", "warmup_from"],
        ["cosine"] = ["peak", "total", "warmup", "final"],
        ["wsd"] = ["peak", "total", "decay", "decay_start", "warmup", "warmup_from", "shape", "final"],
        ["exponential"] = ["peak", "rate", "every", "warmup", "warmup_from", "floor"],
        ["power"] = ["peak", "total", "exponent"],
        ["8-1-1"] = ["peak", "total"],
    };

    public static LearningRateSchedule Parse(string spec, out long? totalSteps)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string text = spec.Trim();
        int colon = text.IndexOf(':');
        string kind = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        if (!Keys.TryGetValue(kind, out var allowed))
        {
            throw new ArgumentException($"Schedule '{spec}': unknown kind '{kind}'; expected {string.Join(", ", Keys.Keys)} (e.g. wsd:peak=3e-4,total=24000,warmup=2000,decay=0.2).", nameof(spec));
        }
        var values = new Dictionary<string, string>();
        foreach (var pair in (colon < 0 ? "" : text[(colon + 1)..]).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = pair.IndexOf('=');
            if (equals <= 0) throw new ArgumentException($"Schedule '{spec}': '{pair}' is not key=value.", nameof(spec));
            string key = pair[..equals].Trim().ToLowerInvariant();
            if (!allowed.Contains(key)) throw new ArgumentException($"Schedule '{spec}': {kind} has no key '{key}'; its keys are {string.Join(", ", allowed)}.", nameof(spec));
            if (!values.TryAdd(key, pair[(equals + 1)..].Trim())) throw new ArgumentException($"Schedule '{spec}': '{key}' is given twice.", nameof(spec));
        }
        var read = new Reader(spec, kind, values);
        totalSteps = read.Has("total") ? read.Steps("total") : null;
        double peak = read.Number("peak");
        return kind switch
        {
            "constant" => Warm(Schedule.Constant(peak), read, peak),
            "cosine" => Schedule.WarmupCosine(peak, read.Steps("warmup", 0), read.Steps("total"), Fraction(read.Number("final", 0))),
            "wsd" => Wsd(read, peak),
            "exponential" => Warm(Schedule.Exponential(peak, read.Number("rate"), read.Steps("every", 1), floorLearningRate: read.Number("floor", 0) * peak), read, peak),
            "power" => Schedule.PowerDecayToZero(peak, read.Steps("total"), read.Number("exponent")),
            _ => Schedule.EightOneOne(peak, read.Steps("total")),
        };
    }

    private static LearningRateSchedule Warm(LearningRateSchedule main, Reader read, double peak)
    {
        long warmup = read.Steps("warmup", 0);
        return warmup > 0 ? Schedule.WithWarmup(main, warmup, WarmupStart(read, peak)) : main;
    }

    // The warmup's first LR: warmup_from (a fraction of the peak in [0, 1), e.g. 0.01 for a warmup from η/100) times the peak.
    private static double WarmupStart(Reader read, double peak)
    {
        double from = read.Number("warmup_from", 0);
        if (!(from >= 0 && from < 1)) throw read.Error($"warmup_from={from.ToString(CultureInfo.InvariantCulture)} must lie in [0, 1) (a fraction of the peak)");
        return from * peak;
    }

    private static DecayTarget Fraction(double final) => final == 0 ? DecayTarget.Zero : DecayTarget.FractionOfPeak(final);

    private static WsdSchedule Wsd(Reader read, double peak)
    {
        long total = read.Steps("total");
        long start = (read.Has("decay"), read.Has("decay_start")) switch
        {
            (true, false) => WsdSchedule.DecayStartForFraction(total, read.Number("decay")),
            (false, true) => read.Steps("decay_start"),
            _ => throw read.Error("give either decay=F (the cooldown fraction) or decay_start=D (its first step)"),
        };
        var shape = read.Has("shape") ? DecayShape.Parse(read.Text("shape")) : DecayShape.Linear;
        return new WsdSchedule(peak, read.Steps("warmup", 0), start, total, shape, Fraction(read.Number("final", 0)), WarmupStart(read, peak));
    }

    private sealed class Reader(string spec, string kind, Dictionary<string, string> values)
    {
        public bool Has(string key) => values.ContainsKey(key);

        public string Text(string key) => values.TryGetValue(key, out var text) ? text : throw Error($"'{key}' is missing");

        public double Number(string key, double? fallback = null)
        {
            if (!values.TryGetValue(key, out var text)) return fallback ?? throw Error($"'{key}' is missing");
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                throw Error($"{key}={text} is not a number");
            }
            return value;
        }

        public long Steps(string key, long? fallback = null)
        {
            if (!values.TryGetValue(key, out var text)) return fallback ?? throw Error($"'{key}' is missing");
            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value))
            {
                // 24e3 is a common way to write step counts.
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double real) || real != Math.Floor(real) || real < 0 || real > long.MaxValue)
                {
                    throw Error($"{key}={text} is not a whole number of steps");
                }
                value = (long)real;
            }
            return value;
        }

        public ArgumentException Error(string problem) => new($"Schedule '{spec}' ({kind}): {problem}.", nameof(spec));
    }
}
