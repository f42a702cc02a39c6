using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Tracking;

namespace TinyGpt;

/// <summary>The run's two pictures (ScottPlot): the loss with its forecast, and the LR schedule.</summary>
public static class Plots
{
    /// <summary>
    /// Training loss (tracked), evaluation loss, the latest forecast with its band, the forecasts made at 25/50/75% of
    /// the run (final loss and band, drawn at the last step) against the final loss reached, and the decay start.
    /// The legend sits right of the data.
    /// </summary>
    public static void Loss(string path, LossTracker tracker, Forecast? forecast, IReadOnlyList<ForecastCheck> checks, long? decayStart, long totalSteps)
    {
        var plot = new ScottPlot.Plot();
        var points = tracker.Points.Where(p => p.Step > 0).ToList();
        var train = plot.Add.Scatter(points.Select(p => (double)p.Step).ToArray(), points.Select(p => p.Loss).ToArray());
        train.LegendText = "training loss";
        train.MarkerSize = 0;
        var evaluations = tracker.Evaluations;
        if (evaluations.Count > 0)
        {
            var eval = plot.Add.Scatter(evaluations.Select(e => (double)e.Step).ToArray(), evaluations.Select(e => e.Loss).ToArray());
            eval.LegendText = "evaluation loss";
        }
        if (forecast != null)
        {
            var steps = forecast.CurveSteps.Select(s => (double)s).ToArray();
            var band = plot.Add.FillY(steps, forecast.CurveUpper.ToArray(), forecast.CurveLower.ToArray());
            band.FillStyle.Color = ScottPlot.Colors.Orange.WithAlpha(0.3);
            band.LegendText = "last forecast's band";
            var line = plot.Add.Scatter(steps, forecast.Curve.ToArray());
            line.LegendText = $"last forecast (step {forecast.Step})";
            line.MarkerSize = 0;
            line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        // The forecasts of the final loss made at 25/50/75%, side by side just past the last step, with their bands.
        var palette = new[] { ScottPlot.Colors.Purple, ScottPlot.Colors.Teal, ScottPlot.Colors.Crimson };
        for (int i = 0; i < checks.Count; i++)
        {
            var check = checks[i];
            double x = totalSteps * (1.01 + 0.015 * i);
            var color = palette[i % palette.Length];
            var bar = plot.Add.Scatter(new[] { x, x }, new[] { check.Lower, check.Upper });
            bar.Color = color;
            bar.MarkerSize = 0;
            bar.LineWidth = 3;
            var mark = plot.Add.Marker(x, check.FinalLoss);
            mark.Color = color;
            mark.Size = 9;
            mark.LegendText = FormattableString.Invariant($"forecast at {check.Fraction:P0} (step {check.Step}){(check.Calibrated ? "" : ", uncalibrated")}");
        }
        if (checks.Count > 0 && points.Count > 0)
        {
            var reached = plot.Add.Marker(totalSteps - 1, tracker.Smoothed);
            reached.Shape = ScottPlot.MarkerShape.FilledDiamond;
            reached.Size = 10;
            reached.Color = ScottPlot.Colors.Black;
            reached.LegendText = "final loss reached (smoothed)";
        }
        if (decayStart is long start)
        {
            var line = plot.Add.VerticalLine(start);
            line.LinePattern = ScottPlot.LinePattern.Dotted;
            line.Color = ScottPlot.Colors.Gray;
            line.LegendText = $"decay start (step {start})";
        }
        double low = points.Count > 0 ? points.Min(p => p.Loss) : 0;
        double high = points.Count > 0 ? points.Skip(points.Count / 10).DefaultIfEmpty(points[0]).Max(p => p.Loss) : 1;
        // The data and the forecasts' central values set the view; a wide band runs off it rather than flattening the curve.
        if (checks.Count > 0)
        {
            low = Math.Min(low, checks.Min(c => c.FinalLoss));
            high = Math.Max(high, checks.Max(c => c.FinalLoss));
        }
        plot.Axes.SetLimitsY(low - 0.1 * (high - low), high + 0.1 * (high - low));
        plot.Axes.SetLimitsX(0, totalSteps * (checks.Count > 0 ? 1.06 : 1.0));
        plot.Title("Loss, forecasts and what happened");
        plot.XLabel("step");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(path, 1100, 500);
    }

    /// <summary>The LR schedule as planned at the start and as it ran (with the moved decay start).</summary>
    public static void LearningRate(string path, LearningRateSchedule planned, LearningRateSchedule actual, long steps)
    {
        var plot = new ScottPlot.Plot();
        var x = Enumerable.Range(0, (int)steps).Select(k => (double)k).ToArray();
        if (!ReferenceEquals(planned, actual))
        {
            var before = plot.Add.Scatter(x, planned.Sample(steps));
            before.LegendText = "planned";
            before.MarkerSize = 0;
            before.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        var after = plot.Add.Scatter(x, actual.Sample(steps));
        after.LegendText = "as run";
        after.MarkerSize = 0;
        plot.Title("Learning-rate schedule");
        plot.XLabel("step");
        plot.YLabel("learning rate");
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(path, 1000, 400);
    }
}
