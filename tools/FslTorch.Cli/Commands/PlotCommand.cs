using System.CommandLine;
using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Schedules;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace FslTorch.Cli.Commands;

/// <summary>
/// <c>fsl plot</c>: logged curves (any format <c>fsl fit</c> reads), the fitted law on each log's own schedule and
/// its prediction for another schedule, each with its band; the LR on a second axis; WSD decay starts marked; the
/// legend beside the plot, off the data. Writes SVG (OxyPlot's SVG writer is managed code: the tool carries no native
/// renderer; any browser shows it, and rsvg-convert or Inkscape turn it into a PNG).
/// </summary>
internal static class PlotCommand
{
    // Points per observed curve drawn at most (evenly thinned beyond that), and steps per predicted curve.
    private const int MaxObservedPoints = 2000;
    private const int PredictedPoints = 400;

    public static Command Create()
    {
        var logs = new Argument<string[]>("logs") { Description = "Logged curves to draw (see --format).", Arity = ArgumentArity.ZeroOrMore };
        var parameters = new Option<string?>("--params") { Description = "A parameter file written by fsl fit: its curve is drawn over each log, with its band." };
        var schedule = new Option<string?>("--schedule") { Description = "With --params: also draw the prediction for this schedule (a spec, or a step,lr CSV file)." };
        var totalSteps = new Option<long?>("--total-steps") { Description = "The length of --schedule (default: the spec's total=, or the CSV's last step + 1)." };
        var output = new Option<string>("--out") { Description = "The picture to write (SVG: plot.svg).", Required = true };
        var forecasts = new Option<string?>("--forecasts")
        {
            Description = "A JSON Lines file of forecasts made during the run (step, final_loss, lower, upper[, calibrated]; TinyGpt's forecasts.jsonl): the last one before 25, 50 and 75% of the first log's run is drawn beside its end, with its band, against the final loss reached.",
        };
        var title = new Option<string?>("--title") { Description = "The plot's title (default: what it shows)." };
        var width = new Option<int>("--width") { Description = "Width in points.", DefaultValueFactory = _ => 1000 };
        var height = new Option<int>("--height") { Description = "Height in points.", DefaultValueFactory = _ => 500 };
        var logFormats = new LogFormats.Options();
        var command = new Command("plot", "Plots logged loss curves with the fitted and predicted curves, their bands, and the LR.")
            { logs, parameters, schedule, totalSteps, forecasts, output, title, width, height };
        foreach (var option in logFormats.All) command.Options.Add(option);
        command.SetAction(parse => CommandSupport.Run(() =>
        {
            string outPath = parse.GetValue(output)!;
            if (!Path.GetExtension(outPath).Equals(".svg", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"--out {outPath}: fsl writes SVG (it carries no native image renderer); name the file .svg, and for a PNG convert it (e.g. rsvg-convert plot.svg -o plot.png).");
            }
            int w = parse.GetValue(width), h = parse.GetValue(height);
            if (w < 200 || h < 150 || w > 10000 || h > 10000) throw new ArgumentException($"--width and --height must lie in [200, 10000] and [150, 10000]; got {w} × {h}.");
            var files = parse.GetValue(logs) ?? [];
            string? parameterFile = parse.GetValue(parameters), spec = parse.GetValue(schedule);
            if (spec != null && parameterFile == null) throw new ArgumentException("--schedule needs --params (the fit that predicts it).");
            if (files.Length == 0 && spec == null) throw new ArgumentException("nothing to plot: give logs, or --params with --schedule.");
            CurveFiles.CheckWritable(outPath, "--out");

            var formats = logFormats.Read(parse);
            var curves = files.Select(f => CurveFiles.Load(f, fromStep: 0, bin: 1, formats)).ToList();
            var fit = parameterFile == null ? null : FitResult.LoadParameters(parameterFile);
            (double[] Rates, int Total)? predicted = spec == null ? null : CurveFiles.ReadSchedule(spec, parse.GetValue(totalSteps));
            var model = Build(curves, fit, spec, predicted, parse.GetValue(title));
            if (parse.GetValue(forecasts) is string forecastFile)
            {
                if (curves.Count == 0) throw new ArgumentException("--forecasts needs the run's log (to know its length and the loss it reached).");
                AddForecasts(model, ReadForecasts(forecastFile), curves[0]);
            }
            SvgPicture.Write(model, outPath, w, h);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{outPath}: {curves.Count} log{(curves.Count == 1 ? "" : "s")}{(fit == null ? "" : $", the {fit.Law.Name} fit")}{(spec == null ? "" : $", predicted for {spec}")}"));
            return 0;
        }));
        return command;
    }

    /// <summary>The plot: observed points, the fit over each log and the prediction with their bands, the LRs, the decay starts.</summary>
    internal static PlotModel Build(IReadOnlyList<ObservedCurve> curves, FitResult? fit, string? spec, (double[] Rates, int Total)? predicted, string? title)
    {
        var model = new PlotModel
        {
            Padding = new OxyThickness(8, 16, 8, 8),
            DefaultFont = "Arial",
            Title = title ?? (fit == null ? "Loss curves" : $"Loss curves and the {fit.Law.Name} law"),
            // The legend sits right of the plot area, never over the data.
            Legends = { new Legend { LegendPlacement = LegendPlacement.Outside, LegendPosition = LegendPosition.RightTop, LegendOrientation = LegendOrientation.Vertical, LegendFontSize = 10 } },
        };
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "step", MajorGridlineStyle = LineStyle.Dot });
        var lossAxis = new LinearAxis { Position = AxisPosition.Left, Title = "loss", Key = "loss", MajorGridlineStyle = LineStyle.Dot };
        model.Axes.Add(lossAxis);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Right, Title = "learning rate", Key = "lr", StringFormat = "0.0E+0", Minimum = 0, AxisTitleDistance = 8 });

        var palette = model.DefaultColors;
        var shown = new List<double>(); // the losses that set the view
        var names = ShortNames(curves.Select(c => c.Name).ToList());
        for (int c = 0; c < curves.Count; c++)
        {
            var curve = curves[c];
            string name = names[c];
            var color = palette[c % palette.Count];
            int stride = Math.Max(1, (curve.Count + MaxObservedPoints - 1) / MaxObservedPoints);
            var observed = new ScatterSeries
            {
                Title = stride == 1 ? name : $"{name} (1 point in {stride})",
                MarkerType = MarkerType.Circle, MarkerSize = 1.5, MarkerFill = color, YAxisKey = "loss",
            };
            for (int i = 0; i < curve.Count; i += stride) observed.Points.Add(new ScatterPoint(curve.Steps[i], curve.Losses[i]));
            model.Series.Add(observed);
            // The first tenth of a run (warmup losses far above the rest) does not set the view.
            long skip = curve.Steps[0] + (curve.Steps[^1] - curve.Steps[0]) / 10;
            shown.AddRange(Enumerable.Range(0, curve.Count).Where(i => curve.Steps[i] >= skip).Select(i => curve.Losses[i]));

            var rates = curve.Schedule.LearningRates.ToArray();
            if (fit != null)
            {
                var steps = PredictedCurve.EvenSteps(curve.Steps[^1] + 1, PredictedPoints, first: Math.Max(1, curve.Steps[0]));
                Draw(model, PredictedCurve.Of(fit, rates, steps), $"fit on {name}", color, LineStyle.Solid, shown);
            }
            AddLearningRate(model, rates, $"LR of {name}", color);
            Mark(model, rates, color);
        }
        if (fit != null && predicted is { } schedule)
        {
            var color = palette[curves.Count % palette.Count];
            var steps = PredictedCurve.EvenSteps(schedule.Total, PredictedPoints, first: 1);
            Draw(model, PredictedCurve.Of(fit, schedule.Rates, steps), $"predicted: {Shorten(spec!)}", color, LineStyle.Dash, shown);
            AddLearningRate(model, schedule.Rates, "LR of the prediction", color);
            Mark(model, schedule.Rates, color);
        }
        if (shown.Count > 0)
        {
            double low = shown.Min(), high = shown.Max(), margin = 0.05 * Math.Max(high - low, 1e-6);
            lossAxis.Minimum = low - margin;
            lossAxis.Maximum = high + margin;
        }
        return model;
    }

    // A predicted curve with its band, in one color.
    private static void Draw(PlotModel model, PredictionBand predicted, string name, OxyColor color, LineStyle style, List<double> shown)
    {
        if (predicted.HasBand)
        {
            // One legend entry says what the shaded bands are.
            bool first = !model.Series.OfType<AreaSeries>().Any();
            var band = new AreaSeries
            {
                Title = first ? "shaded: 10–90% bands" : null,
                Fill = OxyColor.FromAColor(60, color), Color = OxyColors.Transparent, Color2 = OxyColors.Transparent,
                StrokeThickness = 0, YAxisKey = "loss",
            };
            for (int i = 0; i < predicted.Steps.Length; i++)
            {
                band.Points.Add(new DataPoint(predicted.Steps[i], predicted.Upper[i]));
                band.Points2.Add(new DataPoint(predicted.Steps[i], predicted.Lower[i]));
            }
            model.Series.Add(band);
        }
        var line = new LineSeries { Title = name, Color = color, LineStyle = style, StrokeThickness = 2, YAxisKey = "loss" };
        for (int i = 0; i < predicted.Steps.Length; i++) line.Points.Add(new DataPoint(predicted.Steps[i], predicted.Loss[i]));
        model.Series.Add(line);
        shown.AddRange(predicted.Loss.Skip(predicted.Loss.Length / 10));
    }

    private static void AddLearningRate(PlotModel model, double[] rates, string name, OxyColor color)
    {
        var line = new LineSeries { Title = name, Color = OxyColor.FromAColor(150, color), LineStyle = LineStyle.Dot, StrokeThickness = 1, YAxisKey = "lr" };
        var steps = PredictedCurve.EvenSteps(rates.Length, Math.Min(rates.Length, 4 * PredictedPoints));
        // Every step where the rate turns (a WSD's decay start, a step schedule's drops) is drawn exactly.
        var turns = Enumerable.Range(1, Math.Max(0, rates.Length - 2)).Where(k => rates[k] - rates[k - 1] != rates[k + 1] - rates[k]);
        foreach (int k in steps.Concat(turns).Distinct().Order()) line.Points.Add(new DataPoint(k, rates[k]));
        model.Series.Add(line);
    }

    // A vertical line at the start of a WSD decay (see DecayStart).
    private static void Mark(PlotModel model, double[] rates, OxyColor color)
    {
        if (DecayStart(rates) is not long start) return;
        model.Annotations.Add(new LineAnnotation
        {
            Type = LineAnnotationType.Vertical, X = start, Color = color, LineStyle = LineStyle.Dash, StrokeThickness = 1,
            Text = string.Create(CultureInfo.InvariantCulture, $"decay {start}"), TextColor = color, YAxisKey = "loss",
        });
    }

    /// <summary>One forecast of the final loss made during a run.</summary>
    internal sealed record MadeForecast(long Step, double FinalLoss, double Lower, double Upper, bool Calibrated);

    /// <summary>The forecasts of a JSON Lines file (one object per line with step, final_loss, lower, upper and optionally calibrated).</summary>
    internal static IReadOnlyList<MadeForecast> ReadForecasts(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--forecasts {path}: no such file.");
        var made = new List<MadeForecast>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (text.Trim().Length == 0) continue;
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(text);
                var root = json.RootElement;
                made.Add(new MadeForecast(root.GetProperty("step").GetInt64(), root.GetProperty("final_loss").GetDouble(),
                    root.GetProperty("lower").GetDouble(), root.GetProperty("upper").GetDouble(),
                    !root.TryGetProperty("calibrated", out var calibrated) || calibrated.ValueKind == System.Text.Json.JsonValueKind.True));
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}, line {line}: expected an object with step, final_loss, lower and upper ({e.Message})", e);
            }
        }
        return made;
    }

    // The forecasts made at 25/50/75% of the run, side by side just past its end with their bands, and the final loss
    // reached (the mean of the last 2% of the log's points), as TinyGpt's loss.png draws them.
    private static void AddForecasts(PlotModel model, IReadOnlyList<MadeForecast> made, ObservedCurve run)
    {
        long total = run.Steps[^1] + 1;
        var colors = new[] { OxyColors.Purple, OxyColors.Teal, OxyColors.Crimson };
        double[] fractions = [0.25, 0.5, 0.75];
        for (int i = 0; i < fractions.Length; i++)
        {
            var forecast = made.LastOrDefault(f => f.Step < fractions[i] * total);
            if (forecast == null) continue;
            double x = total * (1.01 + 0.015 * i);
            var mark = new ScatterSeries
            {
                Title = string.Create(CultureInfo.InvariantCulture, $"forecast at {fractions[i] * 100:0}% (step {forecast.Step}){(forecast.Calibrated ? "" : ", uncalibrated")}"),
                MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = colors[i], YAxisKey = "loss",
            };
            mark.Points.Add(new ScatterPoint(x, forecast.FinalLoss));
            model.Series.Add(mark);
            var band = new LineSeries { Color = colors[i], StrokeThickness = 3, YAxisKey = "loss" };
            band.Points.Add(new DataPoint(x, forecast.Lower));
            band.Points.Add(new DataPoint(x, forecast.Upper));
            model.Series.Add(band);
        }
        int tail = Math.Max(1, run.Count / 50);
        var reached = new ScatterSeries { Title = "final loss reached", MarkerType = MarkerType.Diamond, MarkerSize = 5, MarkerFill = OxyColors.Black, YAxisKey = "loss" };
        reached.Points.Add(new ScatterPoint(total - 1, run.Losses.TakeLast(tail).Average()));
        model.Series.Add(reached);
    }

    /// <summary>
    /// Legend names: what the curves' names do not share (the longest common prefix, cut at a '-', '_' or '.', is
    /// left out when two or more curves have one), each at most 40 characters.
    /// </summary>
    internal static IReadOnlyList<string> ShortNames(IReadOnlyList<string> names)
    {
        int common = 0;
        if (names.Count >= 2)
        {
            int shared = Enumerable.Range(0, names.Min(n => n.Length)).TakeWhile(i => names.All(n => n[i] == names[0][i])).Count();
            common = names[0].LastIndexOfAny(['-', '_', '.'], Math.Max(0, shared - 1)) + 1;
            if (names.Any(n => n.Length == common)) common = 0; // a name would vanish
        }
        return names.Select(n => Shorten(n[common..])).ToList();
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..39] + "…";

    /// <summary>
    /// The first step after a stable phase at the peak LR from which the LR falls to the end (a WSD decay start):
    /// null when the peak is held for less than 5% of the run, the run ends within 2% of the peak (a constant LR), or
    /// the fall takes less than 1% of the run (a log that writes a rate of 0 at its last step).
    /// </summary>
    internal static long? DecayStart(IReadOnlyList<double> rates)
    {
        if (rates.Count < 3) return null;
        double peak = rates.Max();
        if (!(peak > 0)) return null;
        int atPeak = rates.Count(r => r >= peak * (1 - 1e-9));
        int last = rates.Count - 1;
        while (last > 0 && rates[last] < peak * (1 - 1e-9)) last--;
        if (atPeak < 0.05 * rates.Count || rates[^1] > 0.98 * peak || rates.Count - 1 - last < 0.01 * rates.Count) return null;
        return last + 1;
    }
}
