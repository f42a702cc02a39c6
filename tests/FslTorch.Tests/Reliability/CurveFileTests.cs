using System.Globalization;
using FslTorch.Fitting;
using FslTorch.Tests.Cli;
using Xunit;

namespace FslTorch.Tests.Reliability;

/// <summary>Logged loss curves that are not valid curves: refused with the file and line, never a crash or a huge allocation.</summary>
public sealed class CurveFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fsl-curve-files-");

    public void Dispose() => _folder.Delete(recursive: true);

    // A clean curve of `rows` steps as CSV lines (header first); `edit` changes lines before writing.
    private string Write(string name, Action<List<string>>? edit = null, int rows = 400, string header = "step,lr,loss", bool finalNewline = true)
    {
        var lines = new List<string> { header };
        for (int k = 0; k < rows; k++)
        {
            string step = k.ToString(CultureInfo.InvariantCulture), lr = "0.001", loss = (3 - 0.1 * Math.Log(1 + k)).ToString("R", CultureInfo.InvariantCulture);
            lines.Add(header == "loss,step,lr" ? $"{loss},{step},{lr}" : $"{step},{lr},{loss}");
        }
        edit?.Invoke(lines);
        string path = Path.Combine(_folder.FullName, name + ".csv");
        File.WriteAllText(path, string.Join('\n', lines) + (finalNewline ? "\n" : ""));
        return path;
    }

    private static string Refusal(string path) =>
        Assert.Throws<InvalidDataException>(() => ObservedCurve.FromCsv(path, interpolateMissingSteps: true)).Message;

    [Fact]
    public void EveryInvalidRowIsRefusedWithItsFileAndLine()
    {
        // line numbers are 1-based with the header on line 1, so row k of the curve is on line k + 2
        var cases = new (string Name, Action<List<string>> Edit, string Expected)[]
        {
            ("decreasing", l => l[101] = "98,0.001,2.5", "line 102: step 98 comes after step 99"),
            ("duplicate", l => l[101] = "99,0.001,2.5", "line 102: step 99 repeats step 99"),
            ("nan-lr", l => l[51] = "50,NaN,2.5", "line 52: the lr NaN must be a finite number >= 0"),
            ("inf-lr", l => l[51] = "50,Infinity,2.5", "line 52: the lr Infinity must be"),
            ("negative-lr", l => l[51] = "50,-0.001,2.5", "line 52: the lr -0.001 must be"),
            ("text-lr", l => l[51] = "50,abc,2.5", "line 52: the lr 'abc' is not a number"),
            ("zero-loss", l => l[61] = "60,0.001,0", "line 62: the loss 0 must be > 0"),
            ("negative-loss", l => l[61] = "60,0.001,-1", "line 62: the loss -1 must be > 0"),
            ("text-loss", l => l[61] = "60,0.001,abc", "line 62: the loss 'abc' is not a number"),
            ("absurd-loss", l => l[61] = "60,0.001,1e308", "line 62: the loss 1E+308 is more than 1000 times the curve's median"),
            ("typo-step", l => l.Add("1000000000,0.001,2.0"), "line 402: step 1000000000 follows step 399 (line 401)"),
            ("bad-step", l => l[11] = "1x,0.001,2.5", "line 12: '1x' is not a step"),
        };
        foreach (var (name, edit, expected) in cases)
        {
            string path = Write(name, edit);
            string message = Refusal(path);
            Assert.Contains(path, message);
            Assert.Contains(expected, message);
        }
    }

    [Fact]
    public void AShortRowIsRefusedWhateverTheColumnOrder()
    {
        string path = Write("short", l => l[30] = "2.5", header: "loss,step,lr");
        Assert.Contains("line 31: 1 cell, but the header names the step and loss in columns 2 and 1", Refusal(path));
    }

    [Fact]
    public void ALogStillBeingWrittenMayHoldNoRowYetButAFinishedOneMayNot()
    {
        foreach (var (name, text) in new[] { ("empty", ""), ("torn-header", "step,l"), ("header", "step,lr,loss\n") })
        {
            string path = Path.Combine(_folder.FullName, name + ".csv");
            File.WriteAllText(path, text);
            Assert.Empty(ObservedCurve.CsvRows(path, requireLearningRate: false, skipUnfinishedLastLine: true));
            Assert.Contains("expected a header and at least one row", Refusal(path));
        }
        // A complete header that names no loss is wrong however far the log has got.
        string bad = Path.Combine(_folder.FullName, "bad-header.csv");
        File.WriteAllText(bad, "step,lr,value\n");
        Assert.Throws<InvalidDataException>(() => ObservedCurve.CsvRows(bad, requireLearningRate: false, skipUnfinishedLastLine: true));
    }

    [Fact]
    public void SkippedRowsAndATornLastLineAreReported()
    {
        string path = Write("gaps", l =>
        {
            l[21] = "20,0.001,NaN";
            l[41] = "40,0.001,";
            l.Add("400,0.0");
        }, finalNewline: false);
        var notices = new List<string>();
        var curve = ObservedCurve.FromCsv(path, interpolateMissingSteps: true, notice: notices.Add);
        Assert.Equal(398, curve.Count);
        Assert.Contains(notices, n => n.Contains("line 402: the last line is cut short"));
        Assert.Contains(notices, n => n.Contains("2 rows without a finite loss left out (the first at line 22)"));
    }

    [Fact]
    public void TheCliAnswersBadLogsAndBadFlagsWithAMessageBeforeAnyWork()
    {
        string good = Write("good");
        foreach (var (arguments, expected) in new (string[], string)[]
        {
            (["fit", "--curves", Write("typo", l => l.Add("1000000000,0.001,2.0")), "--out", Path.Combine(_folder.FullName, "p.json")], "a log may span at most"),
            (["fit", "--curves", Write("short", l => l[30] = "2.5", header: "loss,step,lr"), "--out", Path.Combine(_folder.FullName, "p.json")], "line 31"),
            (["fit", "--curves", good, "--out", Path.Combine(_folder.FullName, "p.json"), "--bin", "0"], "--bin must be >= 1"),
            (["fit", "--curves", good, "--out", Path.Combine(_folder.FullName, "p.json"), "--bin", "-5"], "--bin must be >= 1"),
            (["fit", "--curves", good, "--out", good + "/p.json"], "--out"),
            (["bench", "curves", "--fit", good, "--predict", good, "--json", _folder.FullName], "that is a folder"),
        })
        {
            var (code, output, error) = CliProcess.Run(arguments);
            Assert.Equal(2, code);
            Assert.Contains(expected, error);
            Assert.DoesNotContain("   at ", output + error);
            // Refused before fitting: no fit result was printed.
            Assert.DoesNotContain("Converged", output);
        }
        Assert.False(File.Exists(Path.Combine(_folder.FullName, "p.json")));
    }
}
