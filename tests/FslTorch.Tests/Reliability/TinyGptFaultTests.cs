using System.Globalization;
using FslTorch.Tests.TestSupport;
using Xunit;

namespace FslTorch.Tests.Reliability;

/// <summary>
/// TinyGpt (a separate process, as a user runs it) under faults: kills during a checkpoint, torn logs, damaged
/// checkpoint files, bad flags and inputs. A run never loses work silently and never writes before it validated.
/// </summary>
public sealed class TinyGptFaultTests(TinyGptFaultTests.Shared shared) : IDisposable, IClassFixture<TinyGptFaultTests.Shared>
{
    /// <summary>The text and the uninterrupted run every fault is compared with, made once for the class.</summary>
    public sealed class Shared : IDisposable
    {
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tinygpt-whole-");
        private List<string>? _losses;

        public Shared()
        {
            Text = Path.Combine(_folder.FullName, "text.txt");
            TestProse.Write(Text, ["the", "model", "learns", "a", "rate", "of", "loss", "with", "steps", "and", "data", "which", "falls", "slowly", "over", "time"], 400);
        }

        public string Text { get; }
        public string Run => Path.Combine(_folder.FullName, "whole");

        /// <summary>The (step, lr, loss) lines of the uninterrupted run.</summary>
        public List<string> Losses()
        {
            if (_losses == null)
            {
                var (code, output) = TinyGptFaultTests.Run(TinyRun(Text, Run));
                Assert.True(code == 0, output);
                _losses = TinyGptFaultTests.Losses(Run);
            }
            return _losses;
        }

        public void Dispose() => _folder.Delete(recursive: true);
    }

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tinygpt-faults-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Folder(string name) => Path.Combine(_folder.FullName, name);

    private string TextFile() => shared.Text;

    private static (int Code, string Output) Run(string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var (code, output, error) = BuiltTool.Run("TinyGpt.dll", TimeSpan.FromMinutes(3), arguments, environment);
        return (code, output + error);
    }

    // 100 steps, checkpoints after 25, 50 and 75 steps.
    private static string[] TinyRun(string text, string output, params string[] more) =>
        ["--preset", "tiny", "--layers", "2", "--width", "32", "--context", "32", "--steps", "100", "--refit-every", "10", "--data", text, "--out", output, .. more];

    private string[] Tiny(string output, params string[] more) => TinyRun(shared.Text, output, more);

    private static List<string> Losses(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "losses.csv")).Skip(1).Select(l => string.Join(',', l.Split(',').Take(3))).ToList();

    private List<string> Whole() => shared.Losses();

    [Theory]
    [InlineData("50:optimizer.bin")]   // killed mid-checkpoint: the one after 25 steps is the last complete
    [InlineData("75:progress.json")]   // killed after the last file, before the rename: the one after 50 steps
    public void AKillDuringACheckpointLosesNoCompleteCheckpointAndResumesIdentically(string dieAt)
    {
        string run = Folder("killed");
        var (code, output) = Run(Tiny(run), new Dictionary<string, string> { ["TINYGPT_TEST_DIE_DURING_CHECKPOINT"] = dieAt });
        Assert.Equal(137, code);
        long killedAt = long.Parse(dieAt.Split(':')[0], CultureInfo.InvariantCulture);
        Assert.Equal(killedAt, Losses(run).Count); // the log went on to the checkpoint's step
        // The process also died while appending a line: a torn last line.
        File.AppendAllText(Path.Combine(run, "losses.csv"), string.Create(CultureInfo.InvariantCulture, $"{killedAt},0.00"));

        (code, output) = Run(["--resume", run]);
        Assert.True(code == 0, output);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"resuming at step {killedAt - 25}"), output);
        Assert.Contains("losses.csv: the last line was cut short", output);
        Assert.Equal(Whole(), Losses(run));
    }

    [Fact]
    public void ADamagedCheckpointFileIsNamedAndThePreviousCheckpointOffered()
    {
        string run = Folder("damaged");
        var (code, output) = Run(Tiny(run, "--stop-at", "60")); // checkpoints after 50 (previous) and 60 (latest)
        Assert.True(code == 0, output);
        string monitor = Path.Combine(run, "checkpoint", "latest", "monitor.json");
        File.WriteAllText(monitor, File.ReadAllText(monitor)[..100]);

        (code, output) = Run(["--resume", run]);
        Assert.Equal(2, code);
        Assert.Contains(monitor, output);
        Assert.Contains("--previous-checkpoint", output);
        Assert.Contains("step 50", output);
        Assert.DoesNotContain("   at ", output);

        (code, output) = Run(["--resume", run, "--previous-checkpoint"]);
        Assert.True(code == 0, output);
        Assert.Contains("resuming at step 50", output);
        Assert.Equal(Whole(), Losses(run));
    }

    [Fact]
    public void ARunFolderIsNeverOverwrittenOrWrittenBeforeTheInputsAreValid()
    {
        Whole();
        string whole = shared.Run;
        string config = File.ReadAllText(Path.Combine(whole, "config.json"));

        // Another run pointed at it is refused.
        var (code, output) = Run(Tiny(whole));
        Assert.Equal(2, code);
        Assert.Contains("holds another run", output);
        // Even asked to overwrite, a run whose data is bad fails before it touches anything.
        string empty = Folder("empty.txt");
        File.WriteAllText(empty, "");
        (code, output) = Run(["--preset", "tiny", "--data", empty, "--out", whole, "--overwrite"]);
        Assert.Equal(2, code);
        Assert.Equal(config, File.ReadAllText(Path.Combine(whole, "config.json")));
        Assert.True(File.Exists(Path.Combine(whole, "checkpoint", "latest", "progress.json")));

        // Bad inputs leave no folder behind: an empty file, an empty folder, CUDA where there is none, a typo'd number.
        Directory.CreateDirectory(Folder("empty-folder"));
        foreach (var (arguments, message) in new (string[], string)[]
        {
            (["--preset", "tiny", "--data", empty, "--out", Folder("a")], "too little"),
            (["--preset", "tiny", "--data", Folder("empty-folder"), "--out", Folder("b")], "too little"),
            (["--preset", "tiny", "--device", "cuda", "--out", Folder("c")], "CUDA"),
            (["--preset", "tiny", "--lr", "abc", "--out", Folder("d")], "--lr: 'abc' is not a number"),
            (["--preset", "tiny", "--abort-above", "-1", "--out", Folder("e")], "--abort-above must be a finite loss > 0"),
            (["--preset", "tiny", "--abort-reference", Folder("empty-folder"), "--out", Folder("f")], "--abort-reference goes with --abort-above"),
            (["--preset", "tiny", "--abort-above", "3", "--abort-reference", Folder("empty-folder"), "--out", Folder("g")], "not a finished run"),
        })
        {
            (code, output) = Run(arguments);
            Assert.NotEqual(0, code);
            Assert.Contains(message, output);
            Assert.DoesNotContain("System.", output);
            Assert.False(Directory.Exists(arguments[^1]), $"{string.Join(' ', arguments)} wrote {arguments[^1]}");
        }
    }

    [Fact]
    public void AResumedRunTakesRuntimeFlagsAndRefusesTheOthers()
    {
        Whole();
        string whole = shared.Run;
        // --device applies on resume: CUDA is asked for, and refused, instead of being ignored.
        var (code, output) = Run(["--resume", whole, "--device", "cuda"]);
        Assert.Equal(2, code);
        Assert.Contains("CUDA", output);
        foreach (var flag in new[] { "--schedule", "--lr", "--steps", "--out", "--abort-above", "--abort-reference" })
        {
            (code, output) = Run(["--resume", whole, flag, flag == "--schedule" ? "constant" : flag == "--out" ? Folder("x") : "7"]);
            Assert.Equal(2, code);
            Assert.Contains($"{flag} cannot change in a resumed run", output);
        }
    }

    [Fact]
    public void BinaryDataIsTrainedOnWithAWarning()
    {
        string noise = Folder("noise.bin");
        var bytes = new byte[300_000];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(noise, bytes);
        var (code, output) = Run(["--preset", "tiny", "--data", noise, "--out", Folder("noise"), "--stop-at", "1"]);
        Assert.True(code == 0, output);
        Assert.Contains("invalid UTF-8", output);

        (code, output) = Run(["--preset", "tiny", "--data", TextFile(), "--out", Folder("text"), "--stop-at", "1"]);
        Assert.True(code == 0, output);
        Assert.DoesNotContain("invalid UTF-8", output);
    }

    [Fact]
    public void ARunWhoseLossTurnsNaNStopsBeforeItCheckpointsTheDamage()
    {
        string run = Folder("diverged");
        var (code, output) = Run(Tiny(run, "--lr", "1e6"));
        Assert.Equal(3, code);
        Assert.Contains("the run diverged and stops", output);
        Assert.True(Losses(run).Count < 25, "it did not stop when the loss stayed NaN");
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoint", "latest")), "it checkpointed NaN weights");
    }
}
