using FslTorch.Control;
using FslTorch.Schedules;
using FslTorch.Tracking;

namespace TinyGpt;

/// <summary>The run's two pictures (ScottPlot): the loss with its forecast, and the LR schedule.</summary>
public static class Plots
{
    /// <summary>Training loss (tracked), evaluation loss, and the latest forecast with its band.</summary>
    public static void Loss(string path, LossTracker tracker, Forecast? forecast)
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
            band.LegendText = "forecast band";
            var line = plot.Add.Scatter(steps, forecast.Curve.ToArray());
            line.LegendText = $"forecast made at step {forecast.Step}";
            line.MarkerSize = 0;
            line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        double low = points.Count > 0 ? points.Min(p => p.Loss) : 0;
        double high = points.Count > 0 ? points.Skip(points.Count / 10).DefaultIfEmpty(points[0]).Max(p => p.Loss) : 1;
        plot.Axes.SetLimitsY(low - 0.1 * (high - low), high + 0.1 * (high - low));
        plot.Title("Loss and forecast");
        plot.XLabel("step");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
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
        plot.ShowLegend();
        plot.SavePng(path, 900, 400);
    }
}
