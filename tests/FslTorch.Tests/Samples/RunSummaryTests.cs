using FslTorch.Schedules;
using TinyGpt;
using Xunit;

namespace FslTorch.Tests.Samples;

/// <summary>The forecast checks at the end of a TinyGpt run.</summary>
public sealed class RunSummaryTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    private static string Line(long step, double gamma) =>
        "{\"step\":" + step + ",\"final_loss\":1.5,\"lower\":1.4,\"upper\":1.6,\"law\":\"fsl\",\"lr_scale\":0.006,"
        + "\"parameters\":{\"L0\":0.5,\"c1\":10,\"s\":0.4,\"B\":0.5,\"r\":0.1,\"c4\":0.05,\"gamma\":"
        + gamma.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "}}";

    [Fact]
    public void TakesTheLastForecastBeforeEachFractionAndSurvivesParametersTheLawCannotEvaluate()
    {
        // Forecasts at steps 199 and 499 evaluate; the one at 699 has an exponent no kernel quadrature supports.
        File.WriteAllLines(_file, [Line(199, 0.5), Line(499, 0.6), Line(699, 1e9)]);
        var schedule = Schedule.Wsd(6e-3, 50, 800, 1000);
        var checks = RunSummary.CheckForecasts(_file, schedule, 1000);

        Assert.Equal([0.25, 0.5, 0.75], checks.Select(c => c.Fraction));
        Assert.Equal([199L, 499L, 699L], checks.Select(c => c.Step));
        Assert.True(double.IsFinite(checks[0].FinalLossAsRun) && double.IsFinite(checks[1].FinalLossAsRun));
        Assert.True(double.IsNaN(checks[2].FinalLossAsRun));

        // A summary holding NaN is written and read back.
        string path = _file + ".summary.json";
        new RunSummary("controlled", 1000, 10, double.NaN, 1.2, 800, null, checks, 1).Write(path);
        var read = RunSummary.Read(path);
        File.Delete(path);
        Assert.True(double.IsNaN(read.FinalEvalLoss) && double.IsNaN(read.Forecasts[2].FinalLossAsRun));
        Assert.Equal(checks[1], read.Forecasts[1]);
    }
}
