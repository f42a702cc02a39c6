using System.Globalization;
using FslTorch.Surrogates;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Surrogates;

/// <summary>Each law against ../shared/data/reference/oracle-25M.csv (exact sums, stated parameters).</summary>
public sealed class OracleTests
{
    private const double Tolerance = 1e-9;

    private static readonly double[] Fsl = FslLaw.FromPaperParameters(l0: 3.0, c1: 0.5, c2: 300, c3: 2.0, c4: 2.0, s: 0.5, gamma: 0.6);
    private static readonly double[] Momentum = [3.06795, 0.49125, 0.57145, 0.39768];

    private static IEnumerable<(string Run, int[] Steps, double[] Mpl, double[] Fsl, double[] Momentum)> Rows()
    {
        var rows = File.ReadLines(SharedData.PathOf("reference", "oracle-25M.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        foreach (var group in rows.GroupBy(r => r[0]))
        {
            double Column(string[] r, int i) => double.Parse(r[i], CultureInfo.InvariantCulture);
            yield return (group.Key, group.Select(r => int.Parse(r[1], CultureInfo.InvariantCulture)).ToArray(),
                group.Select(r => Column(r, 2)).ToArray(), group.Select(r => Column(r, 3)).ToArray(), group.Select(r => Column(r, 4)).ToArray());
        }
    }

    private static void Check(LossCurveLaw law, double[] parameters, Func<(string Run, int[] Steps, double[] Mpl, double[] Fsl, double[] Momentum), double[]> expected)
    {
        int runs = 0;
        foreach (var row in Rows())
        {
            var schedule = SharedData.MplSchedule(row.Run);
            var fast = law.Predict(parameters, schedule, row.Steps);
            var exact = law.PredictExact(parameters, schedule, row.Steps);
            var want = expected(row);
            for (int i = 0; i < want.Length; i++)
            {
                Assert.True(Math.Abs(fast[i] - want[i]) <= Tolerance, $"{law.Name} fast, {row.Run} step {row.Steps[i]}: {fast[i]:R} vs {want[i]:R}");
                Assert.True(Math.Abs(exact[i] - want[i]) <= Tolerance, $"{law.Name} exact, {row.Run} step {row.Steps[i]}: {exact[i]:R} vs {want[i]:R}");
            }
            runs++;
        }
        Assert.Equal(9, runs);
    }

    [SharedDataFact]
    public void MultiPowerLawMatchesTheOracle() => Check(new MultiPowerLaw(), MultiPowerLaw.Published25M.ToArray(), r => r.Mpl);

    [SharedDataFact]
    public void FslMatchesTheOracle() => Check(new FslLaw(), Fsl, r => r.Fsl);

    [SharedDataFact]
    public void MomentumLawMatchesTheOracle() => Check(new MomentumLaw(), Momentum, r => r.Momentum);
}
