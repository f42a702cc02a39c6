using FslTorch.Schedules;
using FslTorch.Fitting;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Fitting;

public sealed class ParameterPriorTests
{
    [Fact]
    public void AFitSavedToAFileBecomesAPriorOnItsDecayResponse()
    {
        var law = new FslLaw();
        double p = SyntheticCurves.Peak;
        double[] raw = [3.2, 20 * Math.Sqrt(p), 0.5, 0.25 / p, Math.Sqrt(p), 0.004 / p, 0.7];
        var fit = LawFitter.Fit(law, [SyntheticCurves.Generate(law, raw, "wsd", 5e-4, seed: 1)]);
        Assert.True(fit.Succeeded, fit.Message);
        string path = Path.GetTempFileName();
        try
        {
            fit.SaveParameters(path);
            var prior = ParameterPrior.FromFile(path, law, 0.1);
            Assert.Equal(fit.Parameters, prior.Mean);
            Assert.Equal([double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, 0.1, 0.1, 0.1, 0.1], prior.StandardDeviations);
            var wrongLaw = Assert.Throws<InvalidDataException>(() => ParameterPrior.FromFile(path, new MultiPowerLaw(), 0.1));
            Assert.Contains("holds a fit of 'fsl', not of 'mpl'", wrongLaw.Message);
            Assert.Contains("fsl fit --law mpl", wrongLaw.Message); // says how to make a prior of the law wanted
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BuiltInDefaultsExistForTheFslAndMplLawsAndAreNotMeasured()
    {
        var fsl = ParameterPrior.BuiltIn(new FslLaw());
        Assert.Equal(7, fsl.Mean.Count);
        Assert.Equal(4, fsl.StandardDeviations.Count(s => double.IsFinite(s)));
        Assert.False(fsl.IsMeasured);
        var direct = ParameterPrior.BuiltIn(new FslDirectLaw());
        Assert.Equal(["C", "tau", "beta", "D"], direct.StandardDeviations.Select((s, i) => (s, i)).Where(x => double.IsFinite(x.s)).Select(x => new FslDirectLaw().Parameters[x.i].Name));
        Assert.True(ParameterPrior.FromFit(FitResultFor(direct.Mean), 0.1).IsMeasured);
        Assert.Equal(7, ParameterPrior.BuiltIn(new MultiPowerLaw()).Mean.Count);
        Assert.Throws<ArgumentException>(() => ParameterPrior.BuiltIn(new MomentumLaw()));
    }

    private static FitResult FitResultFor(IReadOnlyList<double> parameters)
    {
        // A fit of the direct law to its own curve at these parameters: a measured source for a prior.
        var law = new FslDirectLaw();
        var schedule = Schedule.Wsd(1.0, 20, 800, 1000).SampleWithIntrinsicTime(1000);
        var steps = Enumerable.Range(1, 99).Select(i => i * 10).ToArray();
        var curve = new ObservedCurve("c", schedule, steps, law.Predict(parameters.ToArray(), schedule, steps));
        return LawFitter.Fit(law, [curve]);
    }
}
