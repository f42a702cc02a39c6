using System.CommandLine;
using System.Globalization;

namespace FslTorch.Cli;

/// <summary>What every command shares: the error boundary, atomic output, the bench settings.</summary>
internal static class CommandSupport
{
    /// <summary>Runs a command body, turning bad input into a message and exit code 2 instead of a stack trace.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or FormatException)
        {
            Console.Error.WriteLine($"fsl: {e.Message}");
            return 2;
        }
    }

    /// <summary>The options every bench command shares.</summary>
    public sealed record BenchSettings(IReadOnlyList<string> Laws, FslTorch.Fitting.FitOptions FitOptions, string? Json);

    /// <summary>A prior's spread from <paramref name="option"/>: a finite number &gt; 0, or a message naming the flag.</summary>
    public static double PriorSpread(ParseResult parse, Option<double> option)
    {
        double spread = parse.GetValue(option);
        if (!(spread > 0) || !double.IsFinite(spread)) throw new ArgumentException($"{option.Name} must be a finite number > 0; got {spread}.");
        return spread;
    }

    public static BenchSettings Settings(ParseResult parse, Option<string[]> laws, Option<int> block, Option<string?> json)
    {
        var names = parse.GetValue(laws) is { Length: > 0 } chosen
            ? chosen.SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList()
            : Protocol.DefaultLaws.ToList();
        foreach (var name in names) Protocol.CheckLawName(name); // reject unknown names before any work
        CurveFiles.CheckWritable(parse.GetValue(json), "--json");
        return new BenchSettings(names, new FslTorch.Fitting.FitOptions { ScheduleBlockSteps = parse.GetValue(block) }, parse.GetValue(json));
    }

    public static int Bench(string dataset, IReadOnlyList<FslTorch.Fitting.ObservedCurve> fit, IReadOnlyList<FslTorch.Fitting.ObservedCurve> predict, BenchSettings settings)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fit on: {string.Join(", ", fit.Select(c => c.Name))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"predict: {string.Join(", ", predict.Select(c => c.Name))}"));
        var scores = Protocol.RunAll(settings.Laws, fit, predict, settings.FitOptions);
        Report.PrintTable(dataset, scores, Console.Out);
        if (settings.Json != null) Report.WriteJson(Report.ToJson(dataset, scores), settings.Json);
        return 0;
    }
}
