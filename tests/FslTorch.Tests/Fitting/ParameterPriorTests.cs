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
            Assert.Throws<InvalidDataException>(() => ParameterPrior.FromFile(path, new MultiPowerLaw(), 0.1));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BuiltInDefaultsExistForTheFslAndMplLaws()
    {
        var fsl = ParameterPrior.BuiltIn(new FslLaw());
        Assert.Equal(7, fsl.Mean.Count);
        Assert.Equal(4, fsl.StandardDeviations.Count(s => double.IsFinite(s)));
        Assert.Equal(7, ParameterPrior.BuiltIn(new MultiPowerLaw()).Mean.Count);
        Assert.Throws<ArgumentException>(() => ParameterPrior.BuiltIn(new MomentumLaw()));
    }
}
