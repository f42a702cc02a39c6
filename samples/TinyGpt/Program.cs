// TinyGpt: a small GPT pre-training run on CPU (CUDA when built for it) with FslTorch's live forecasts and
// decay-point switching. It reads top to bottom: config, data, model, optimizer, FslTorch, loop, summary.
//
//   dotnet run --project samples/TinyGpt -c Release [-- --help]
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Microsoft.Extensions.Logging;
using TinyGpt;
using TorchSharp;
using static TorchSharp.torch;

// ---- command line -------------------------------------------------------------------------------------------
var preset = new Option<string>("--preset") { Description = "Model size: tiny, small (default) or medium; the flags below override it.", DefaultValueFactory = _ => "small" };
var steps = Number<long>("--steps", "Training steps (the budget N).");
var layers = Number<int>("--layers", "Transformer blocks.");
var width = Number<int>("--width", "Model width.");
var heads = Number<int>("--heads", "Attention heads (must divide the width).");
var context = Number<int>("--context", "Context length in tokens (bytes).");
var batch = Number<int>("--batch", "Sequences per step.");
var lr = Number<double>("--lr", "Peak learning rate.");
var warmup = Number<double>("--warmup", "The warmup's length as a fraction of the steps (from a hundredth of the peak).");
var warmupSteps = Number<long>("--warmup-steps", "The warmup's length in steps (default: 100, or a tenth of a shorter run; --warmup gives a fraction instead).");
var beta2 = Number<double>("--beta2", "AdamW's beta2.");
var clip = Number<double>("--clip", "Clip the gradient's global norm to this (0: no clipping).");
var scaledInit = new Option<bool?>("--scaled-residual-init") { Description = "true: the residual projections start at 0.02/sqrt(2 layers) (GPT-2); false: at 0.02 like every matrix.", Arity = ArgumentArity.ZeroOrOne };
var data = new Option<string?>("--data") { Description = "A UTF-8 text file or folder; the .NET SDK's XML documentation by default." };
var tokenizer = new Option<string?>("--tokenizer") { Description = "bytes (default, vocabulary 256) or cl100k (renumbered over the ids the text uses)." };
var device = new Option<string>("--device") { Description = "auto (default: CUDA when the build has it and a GPU is there, else the CPU), cpu, cuda or cuda:N (may change on --resume).", DefaultValueFactory = _ => "auto" };
var background = new Option<string?>("--background-refits") { Description = "auto (default: in the background on a CUDA device, inline on the CPU), on or off: where the monitor refits." };
var threads = Number<int>("--threads", "CPU threads for TorchSharp (may change on --resume).");
var seed = Number<long>("--seed", "Seed of initialisation and data order.");
var output = new Option<string?>("--out") { Description = "Run folder (default runs/tinygpt)." };
var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint." };
var prior = new Option<string?>("--prior") { Description = "A parameter file (fsl fit of calibration runs) for the decay-response prior." };
var priorSpread = Number<double>("--prior-spread", "The prior's standard deviation in log units (default 0.1).");
var priorOn = new Option<string[]>("--prior-on") { Description = "The parameters --prior holds (the law's decay-response parameters by default; e.g. C tau s beta D, every one but the level, as tinygpt-evidence lrs passes for a run of an LR sweep).", AllowMultipleArgumentsPerToken = true };
var scheduleOption = new Option<string?>("--schedule") { Description = "controlled (default: WSD whose decay start the forecasts move), wsd:F (fixed cooldown fraction F), cosine (to 10%) or constant." };
var checkpointAt = Numbers<long>("--checkpoint-at", "Also keep the checkpoint after these steps (branch points), in checkpoint/step-K.");
var branchFrom = new Option<string?>("--branch-from") { Description = "Start from a checkpoint of this run folder (same model, data and seed) with another --schedule." };
var branchStep = Number<long>("--branch-step", "With --branch-from: the step count of the checkpoint to start from.");
var stopAt = Number<long>("--stop-at", "Stop after this step as if interrupted (then --resume).");
var probeAt = Numbers<double>("--probe-at", "Fork a cooldown probe at these fractions of the budget (0.4 by default: in controlled runs, and in fixed-schedule runs whose own decay begins after the probe ends; given, in any run).");
var probeFraction = Number<double>("--probe-fraction", "The length of each cooldown probe as a fraction of the budget (default 0.04).");
var refitEvery = Number<int>("--refit-every", "Refit the forecast every N steps (default: 2% of the budget, stretched to keep refits within 1% of the wall time).");
var noProbes = new Option<bool>("--no-probes") { Description = "No cooldown probes: the controller keeps its plan, and forecasts say they cannot forecast the cooldown, unless a measured --prior gives decay evidence." };
var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in --out (its config, logs and checkpoints)." };
var decisionsFrom = new Option<string?>("--decisions-from") { Description = "Steer a wsd:F run from a decision file another process writes (fsl watch): its decay_start_step and stop." };
var abortAbove = Number<double>("--abort-above", "Stop the run once its calibrated forecast band says the final loss stays above this (a sweep's best so far plus a margin); its summary says it was aborted.");
var abortReference = new Option<string?>("--abort-reference") { Description = "With --abort-above: a finished run of the same sweep (its folder); how far its forecasts were off at each fraction of its budget widens this run's abort band there." };
var previousCheckpoint = new Option<bool>("--previous-checkpoint") { Description = "With --resume: continue from the checkpoint before the last one (when the last is damaged)." };
var root = new RootCommand("TinyGpt: GPT pre-training with FslTorch forecasts.")
    { preset, steps, layers, width, heads, context, batch, lr, warmup, warmupSteps, beta2, clip, scaledInit, data, tokenizer, device, background, threads, seed, output, resume, prior, priorSpread, priorOn, scheduleOption, checkpointAt, branchFrom, branchStep, stopAt, probeAt, probeFraction, noProbes, refitEvery, overwrite, previousCheckpoint, decisionsFrom, abortAbove, abortReference };
root.SetAction(parse =>
{
    try
    {
        string? resumeFolder = parse.GetValue(resume), parentFolder = parse.GetValue(branchFrom);
        bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
        string[]? PriorOn() => parse.GetValue(priorOn) is { Length: > 0 } names
            ? parse.GetValue(prior) != null ? names : throw new ArgumentException("--prior-on goes with --prior.")
            : null;
        Option[] fixedByParent = [preset, steps, layers, width, heads, context, batch, lr, warmup, warmupSteps, beta2, clip, scaledInit, data, tokenizer, seed, probeAt, probeFraction, noProbes, refitEvery, background];
        if (resumeFolder != null && parentFolder != null) throw new ArgumentException("--resume and --branch-from exclude each other.");
        if (parse.GetValue(previousCheckpoint) && resumeFolder == null) throw new ArgumentException("--previous-checkpoint goes with --resume.");
        if (resumeFolder != null)
        {
            // A resumed run is the run it was; only how it runs (device, threads, where it stops) may change.
            var given = fixedByParent.Concat([scheduleOption, prior, priorSpread, priorOn, checkpointAt, output, branchStep, overwrite, decisionsFrom, abortAbove, abortReference]).FirstOrDefault(Given);
            if (given != null) throw new ArgumentException($"{given.Name} cannot change in a resumed run (--device, --threads and --stop-at can).");
            var saved = RunFolder.ReadConfig(resumeFolder);
            var settings = saved with
            {
                Out = resumeFolder,
                StopAt = parse.GetValue(stopAt),
                Device = Given(device) ? parse.GetValue(device)! : saved.Device,
                Threads = parse.GetValue(threads) ?? saved.Threads,
            };
            settings.Validate();
            return Train(settings, RunStart.Resume, prepare: null, parse.GetValue(previousCheckpoint));
        }
        if (parentFolder != null)
        {
            var given = fixedByParent.FirstOrDefault(Given);
            if (given != null) throw new ArgumentException($"{given.Name} cannot change in a branched run.");
            long at = parse.GetValue(branchStep) ?? throw new ArgumentException("--branch-from needs --branch-step K (a step the parent kept a checkpoint after).");
            string into = parse.GetValue(output) ?? throw new ArgumentException("--branch-from needs --out <new run folder>.");
            var parent = RunFolder.ReadConfig(parentFolder);
            var settings = parent with
            {
                Out = into,
                Schedule = parse.GetValue(scheduleOption) ?? parent.Schedule,
                Prior = parse.GetValue(prior) ?? parent.Prior,
                PriorSpread = parse.GetValue(priorSpread) ?? parent.PriorSpread,
                // A branch keeps its parent's prior with the parameters it held, unless it is given a prior of its own.
                PriorOn = parse.GetValue(prior) != null ? PriorOn()
                    : Given(priorOn) ? throw new ArgumentException("--prior-on goes with --prior: a branch keeps its parent's prior and the parameters it holds unless both are given.")
                    : parent.PriorOn,
                CheckpointAt = parse.GetValue(checkpointAt) ?? [],
                Device = Given(device) ? parse.GetValue(device)! : parent.Device,
                Threads = parse.GetValue(threads) ?? parent.Threads,
                StopAt = parse.GetValue(stopAt),
                DecisionsFrom = parse.GetValue(decisionsFrom),
                AbortAbove = parse.GetValue(abortAbove),
                AbortReference = parse.GetValue(abortReference),
                BranchedFrom = string.Create(CultureInfo.InvariantCulture, $"{Path.GetFullPath(parentFolder)}@{at}"),
            };
            settings.Validate();
            if (Path.GetFullPath(into) == Path.GetFullPath(parentFolder)) throw new ArgumentException("--out must differ from --branch-from.");
            var parentRun = new RunFolder(parentFolder);
            string source = RunFolder.BranchSource(parentRun, at);
            var branch = new RunFolder(into);
            RefuseOtherRun(branch, parse.GetValue(overwrite));
            return Train(settings, RunStart.Branch, run =>
            {
                run.Clear();
                run.Create().BranchFrom(parentRun, source);
                run.WriteConfig(settings);
            });
        }
        var basis = Settings.Preset(parse.GetValue(preset)!);
        // The warmup in steps: as given; none when a fraction is given instead; else the preset's, at most a tenth of a
        // shorter run.
        long? WarmupSteps()
        {
            if (Given(warmup) && Given(warmupSteps)) throw new ArgumentException("--warmup (a fraction) and --warmup-steps exclude each other.");
            if (Given(warmup)) return null;
            if (parse.GetValue(warmupSteps) is long given) return given;
            return basis.WarmupSteps is long presetSteps ? Math.Min(presetSteps, Math.Max(1, (parse.GetValue(steps) ?? basis.Steps) / 10)) : null;
        }
        var fresh = basis with
        {
            Steps = parse.GetValue(steps) ?? basis.Steps,
            Layers = parse.GetValue(layers) ?? basis.Layers,
            Width = parse.GetValue(width) ?? basis.Width,
            Heads = parse.GetValue(heads) ?? basis.Heads,
            Context = parse.GetValue(context) ?? basis.Context,
            Batch = parse.GetValue(batch) ?? basis.Batch,
            PeakLearningRate = parse.GetValue(lr) ?? basis.PeakLearningRate,
            WarmupFraction = parse.GetValue(warmup) ?? basis.WarmupFraction,
            WarmupSteps = WarmupSteps(),
            Beta2 = parse.GetValue(beta2) ?? basis.Beta2,
            GradientClip = parse.GetValue(clip) ?? basis.GradientClip,
            ScaledResidualInit = parse.GetValue(scaledInit) ?? basis.ScaledResidualInit,
            Data = parse.GetValue(data),
            Tokenizer = parse.GetValue(tokenizer) ?? basis.Tokenizer,
            Device = parse.GetValue(device)!,
            Threads = parse.GetValue(threads) ?? basis.Threads,
            Seed = parse.GetValue(seed) ?? basis.Seed,
            Out = parse.GetValue(output) ?? basis.Out,
            Schedule = parse.GetValue(scheduleOption) ?? basis.Schedule,
            Prior = parse.GetValue(prior),
            PriorSpread = parse.GetValue(priorSpread) ?? basis.PriorSpread,
            PriorOn = PriorOn(),
            CheckpointAt = parse.GetValue(checkpointAt) ?? [],
            StopAt = parse.GetValue(stopAt),
            ProbeAt = parse.GetValue(noProbes) ? [] : parse.GetValue(probeAt) is { Length: > 0 } fractions ? fractions : basis.ProbeAt,
            ProbesInFixedRuns = !parse.GetValue(noProbes) && parse.GetValue(probeAt) is { Length: > 0 },
            ProbeFraction = parse.GetValue(probeFraction) ?? basis.ProbeFraction,
            RefitEvery = parse.GetValue(refitEvery),
            BackgroundRefits = parse.GetValue(background) ?? basis.BackgroundRefits,
            DecisionsFrom = parse.GetValue(decisionsFrom),
            AbortAbove = parse.GetValue(abortAbove),
            AbortReference = parse.GetValue(abortReference),
        };
        fresh = fresh with { EvalEvery = (int)Math.Max(1, fresh.Steps / 10), CheckpointEvery = (int)Math.Max(1, fresh.Steps / 4) };
        fresh.Validate();
        RefuseOtherRun(new RunFolder(fresh.Out), parse.GetValue(overwrite));
        // Nothing is written until Train has validated the data, the device and the prior.
        return Train(fresh, RunStart.Fresh, run =>
        {
            run.Clear();
            run.Create().WriteConfig(fresh);
        });
    }
    catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or JsonException)
    {
        Console.Error.WriteLine($"tinygpt: {e.Message}");
        return 2;
    }
});
// A typo in a flag gets its message and a pointer to --help, not the whole usage text.
var parsed = root.Parse(args);
if (parsed.Action is System.CommandLine.Invocation.ParseErrorAction onError) onError.ShowHelp = false;
return parsed.Invoke();

// The decay start and stop of a decision file (fsl watch writes it atomically); null when it is absent or unreadable.
static (long? DecayStart, bool Stop)? ReadDecision(string path)
{
    try
    {
        if (!File.Exists(path)) return null;
        var root = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        long? start = root.TryGetProperty("decay_start_step", out var value) && value.TryGetInt64(out long step) ? step : null;
        return (start, root.TryGetProperty("stop", out var stop) && stop.ValueKind == JsonValueKind.True);
    }
    catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
    {
        return null; // being replaced this instant, or not a decision file: the next read decides
    }
}

// A fresh or branched run never writes into a folder that holds another run, unless asked to replace it.
static void RefuseOtherRun(RunFolder run, bool overwrite)
{
    if (run.HoldsARun && !overwrite)
    {
        throw new ArgumentException($"--out {run.Path} holds another run: continue it with --resume {run.Path}, choose another --out, or pass --overwrite to replace it.");
    }
}

// Numeric flags answer a typo with a plain message (not a .NET type name).
static Option<T?> Number<T>(string name, string description) where T : struct, System.Numerics.INumber<T> => new(name)
{
    Description = description,
    CustomParser = result => Parse<T>(name, result.Tokens.Count > 0 ? result.Tokens[^1].Value : "", result),
};

static Option<T[]> Numbers<T>(string name, string description) where T : struct, System.Numerics.INumber<T> => new(name)
{
    Description = description,
    AllowMultipleArgumentsPerToken = true,
    CustomParser = result => result.Tokens.Select(t => Parse<T>(name, t.Value, result)).OfType<T>().ToArray(),
};

static T? Parse<T>(string name, string text, System.CommandLine.Parsing.ArgumentResult result) where T : struct, System.Numerics.INumber<T>
{
    bool integer = typeof(T) == typeof(int) || typeof(T) == typeof(long);
    if (T.TryParse(text, integer ? NumberStyles.Integer : NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) return value;
    result.AddError($"{name}: '{text}' is not {(integer ? "a whole number" : "a number")}.");
    return null;
}

static int Train(Settings settings, RunStart start, Action<RunFolder>? prepare = null, bool previousCheckpoint = false)
{
    // ---- config and logging -------------------------------------------------------------------------------------
    using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
    var logger = loggers.CreateLogger("TinyGpt");
    bool terminal = !Console.IsOutputRedirected;
    void Report(string line)
    {
        if (terminal) Console.WriteLine(line); else logger.LogInformation("{Line}", line);
    }
    var run = new RunFolder(settings.Out);
    var compute = TorchDevices.Resolve(settings.Device);
    torch.set_num_threads(settings.Threads);

    // ---- data: tokens of text, whole documents held out across the corpus ---------------------------------------
    var corpus = TextCorpus.Load(settings.Data, settings.Tokenizer, minimumTokens: settings.Context * settings.Batch * 4);
    if (corpus.Warning != null) Console.Error.WriteLine($"tinygpt: warning: {corpus.Warning}");
    int vocabulary = corpus.VocabularySize;
    (Tensor X, Tensor Y) Batch(int[] text, Random random)
    {
        var x = new long[settings.Batch * settings.Context];
        var y = new long[settings.Batch * settings.Context];
        for (int b = 0; b < settings.Batch; b++)
        {
            int start = random.Next(0, text.Length - settings.Context - 1);
            for (int t = 0; t < settings.Context; t++)
            {
                x[b * settings.Context + t] = text[start + t];
                y[b * settings.Context + t] = text[start + t + 1];
            }
        }
        return (tensor(x, [settings.Batch, settings.Context], device: compute), tensor(y, [settings.Batch, settings.Context], device: compute));
    }

    // ---- model and optimizer --------------------------------------------------------------------------------------
    torch.manual_seed(settings.Seed);
    using var model = new GptModel(new GptConfig(vocabulary, settings.Layers, settings.Width, settings.Heads, settings.Context, ScaledResidualInit: settings.ScaledResidualInit));
    model.to(compute);
    using var optimizer = optim.AdamW(model.parameters(), lr: settings.PeakLearningRate, beta2: settings.Beta2, weight_decay: settings.WeightDecay);
    long parameters = model.parameters().Sum(p => p.numel());

    // ---- FslTorch: the schedule (by default a WSD planned with a 20% cooldown whose decay start the monitor moves) ------
    long total = settings.Steps;
    var planned = RunSchedule.Build(settings);
    bool controlled = RunSchedule.IsControlled(settings);
    var scheduler = new FslScheduler(optimizer, planned);
    // The finalizer thread held between step ends: a collection from another thread cannot free a native call's implicit Scalar.
    var monitor = scheduler.Monitor(total, RunSchedule.MonitorOptions(settings, RunSchedule.BackgroundRefits(settings, compute)) with { HoldFinalizersDuringSteps = true }, logger);

    // ---- the run folder (only now that data, device and prior are known to be good), then resume or branch ----------
    prepare?.Invoke(run);
    long first = 0;
    string? checkpoint = start == RunStart.Fresh ? null : run.ResumableCheckpoint(previousCheckpoint);
    if (previousCheckpoint && checkpoint != run.PreviousCheckpoint) throw new InvalidDataException($"{run.Path}: there is no previous checkpoint to continue from.");
    if (checkpoint != null)
    {
        if (checkpoint == run.PreviousCheckpoint && !previousCheckpoint)
        {
            Console.Error.WriteLine("tinygpt: note: the last checkpoint was cut short (the process died while saving it); continuing from the one before.");
        }
        string reading = "";
        try
        {
            reading = Path.Combine(checkpoint, "progress.json");
            first = RunFolder.NextStep(checkpoint);
            reading = Path.Combine(checkpoint, "model.bin");
            ModelState.Load(model, reading);
            reading = Path.Combine(checkpoint, "optimizer.bin");
            optimizer.load_state_dict(reading);
            // A branch (also one interrupted before its first own checkpoint) starts its schedule at the step.
            reading = Path.Combine(checkpoint, "scheduler.json");
            if (File.Exists(reading)) scheduler.LoadStateFile(reading);
            else scheduler.LoadState(new FslSchedulerState(first, (planned as WsdSchedule)?.DecayStartStep));
            reading = Path.Combine(checkpoint, "monitor.json");
            monitor.LoadStateFile(reading);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string offer = checkpoint == run.Checkpoint && run.ResumableCheckpoint(usePrevious: true) is string previous
                ? $" The checkpoint before it (step {RunFolder.NextStep(previous)}) is kept: continue from it with --resume {run.Path} --previous-checkpoint."
                : "";
            string what = e is InvalidDataException ? e.Message : $"{reading} cannot be read ({e.Message.Split('\n')[0]}).";
            throw new InvalidDataException(what + offer, e);
        }
    }
    run.PrepareLogs(first, note => Console.Error.WriteLine($"tinygpt: note: {note}"));
    // TensorBoard events beside the logs (tensorboard --logdir <run folder>/tensorboard).
    var tensorBoard = new TensorBoardCallback(run.File("tensorboard"), monitor, every: (int)Math.Max(1, total / 500), logger);
    run.CheckHistory(scheduler.Schedule);
    Report(string.Create(CultureInfo.InvariantCulture,
        $"TinyGpt: {parameters:N0} parameters, {corpus.Train.Length:N0} training tokens ({settings.Tokenizer}, vocabulary {vocabulary:N0}) from {corpus.Source} ({corpus.HeldOut.Length:N0} held out), {total} steps on {compute.type}{(first > 0 ? $", {(start == RunStart.Branch ? "branching" : "resuming")} at step {first}" : "")}, schedule {settings.Schedule}"));

    double Evaluate()
    {
        using var _ = no_grad();
        model.eval();
        var random = new Random(12345); // the same held-out batches every time
        double sum = 0;
        for (int i = 0; i < settings.EvalBatches; i++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = Batch(corpus.HeldOut, random);
            sum += nn.functional.cross_entropy(model.call(x).view(-1, vocabulary), y.view(-1)).item<float>();
        }
        model.train();
        return sum / settings.EvalBatches;
    }

    // ---- training loop -------------------------------------------------------------------------------------------------
    // A test hook (fault injection): TINYGPT_TEST_DIE_DURING_CHECKPOINT=K:file ends the process right after `file` of the
    // checkpoint after K steps was written, as a kill would.
    string? dieDuring = Environment.GetEnvironmentVariable("TINYGPT_TEST_DIE_DURING_CHECKPOINT");
    void Written(long nextStep, string file)
    {
        if (dieDuring == string.Create(CultureInfo.InvariantCulture, $"{nextStep}:{file}")) Environment.Exit(137);
    }
    void SaveCheckpoint(long nextStep) => run.SaveCheckpoint(folder =>
    {
        model.save(Path.Combine(folder, "model.bin"));
        Written(nextStep, "model.bin");
        optimizer.save_state_dict(Path.Combine(folder, "optimizer.bin"));
        Written(nextStep, "optimizer.bin");
        scheduler.SaveStateFile(Path.Combine(folder, "scheduler.json"));
        Written(nextStep, "scheduler.json");
        monitor.SaveStateFile(Path.Combine(folder, "monitor.json"));
        Written(nextStep, "monitor.json");
        File.WriteAllText(Path.Combine(folder, "progress.json"), JsonSerializer.Serialize(new { next_step = nextStep }));
        Written(nextStep, "progress.json");
    });

    // One optimizer step on the batch of `step`, which depends on the seed and the step alone (so a resumed run, and a
    // probe looking ahead, see the same data); returns the batch's loss.
    double TrainStep(long step)
    {
        var random = new Random(unchecked((int)(settings.Seed * 1_000_003 + step)));
        using var scope = NewDisposeScope();
        var (x, y) = Batch(corpus.Train, random);
        var loss = nn.functional.cross_entropy(model.call(x).view(-1, vocabulary), y.view(-1));
        optimizer.zero_grad();
        loss.backward();
        if (settings.GradientClip > 0) nn.utils.clip_grad_norm_(model.parameters(), settings.GradientClip);
        optimizer.step();
        return loss.item<float>();
    }

    // A cooldown probe: a copy of model and optimizer trains a linear decay to 0 on the batches of the next steps, then
    // the run's own state comes back (the run goes on bit-identically); its losses show what a cooldown buys.
    var probeClock = new Stopwatch();
    CooldownProbe Probe(long fork)
    {
        probeClock.Start();
        int length = settings.ProbeLength(fork);
        var probe = scheduler.RunCooldownProbe(model, length, TrainStep);
        probeClock.Stop();
        Report(string.Create(CultureInfo.InvariantCulture,
            $"cooldown probe at step {fork}: {length} steps from lr {probe.LearningRates[0]:0.00e+0} to 0, loss {probe.Losses.Take(10).Average():F4} → {probe.Losses.TakeLast(10).Average():F4} (the run's own loss {monitor.Tracker.Smoothed:F4})"));
        return probe;
    }
    var probeSteps = settings.ProbeSteps();
    // The refits the probes will bring are planned from the start: the work budget makes none of its own just before one.
    // (A probe is recorded at its fork step, before that step runs: one forking at or after `first` is still to come.)
    foreach (long fork in probeSteps.Where(k => k >= first)) monitor.ExpectProbe(fork, settings.ProbeLength(fork));

    var clock = Stopwatch.StartNew();
    // A resumed forecaster counts its checkpoint's time too; the summary's times are this process's.
    var backgroundBefore = monitor.Forecaster.BackgroundWallTime;
    var forecasterBefore = monitor.Forecaster.WallTime;
    long step = first;
    double lastEval = run.LastEvalLoss(); // a run resumed at its end reports its logged final evaluation
    for (; step < total; step++)
    {
        if (probeSteps.Contains(step) && !monitor.Forecaster.Probes.Any(p => p.ForkStep == step)) monitor.AddProbe(Probe(step));

        // forward, backward, step
        double rate = scheduler.CurrentLearningRate;
        double value = TrainStep(step);
        scheduler.step();
        var signal = monitor.OnStepEnd(step, value);
        tensorBoard.OnStepEnd(step, rate, value);

        // evaluate, log, record forecasts and decisions
        double? evalLoss = null;
        if ((step + 1) % settings.EvalEvery == 0 || step == total - 1)
        {
            lastEval = Evaluate();
            evalLoss = lastEval;
            monitor.OnEvaluationEnd(step, lastEval);
            tensorBoard.OnEvaluationEnd(step, lastEval);
        }
        run.AppendLoss(step, rate, value, evalLoss);
        var forecast = monitor.LatestForecast;
        if (signal.HasFlag(TrainingSignal.Forecast)) run.AppendForecast(forecast!);
        if (signal.HasFlag(TrainingSignal.Decision)) run.AppendDecision(monitor.Controller!.Decisions[^1]);
        if (step % Math.Max(1, total / 20) == 0 || evalLoss != null || signal.HasFlag(TrainingSignal.ScheduleChanged))
        {
            double tokensPerSecond = (step + 1 - first) * (double)settings.Batch * settings.Context / clock.Elapsed.TotalSeconds;
            string outlook = forecast == null ? "forecast -" : $"forecast {forecast.Describe()}";
            Report(string.Create(CultureInfo.InvariantCulture,
                $"step {step,6}  loss {monitor.Tracker.Smoothed:F4}{(evalLoss is double e ? $"  eval {e:F4}" : "")}  lr {rate:0.00e+0}  {tokensPerSecond,7:F0} tok/s  {outlook}{(controlled && scheduler.Schedule is WsdSchedule w ? $"  decay at {w.DecayStartStep}" : "")}"));
        }

        // a diverged run stops before it checkpoints its NaN weights
        if (signal.HasFlag(TrainingSignal.Diverged))
        {
            monitor.OnRunEnd(step);
            string saved = run.ResumableCheckpoint() is string latest ? $"its last checkpoint continues at step {RunFolder.NextStep(latest)}" : "it has no checkpoint yet";
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tinygpt: the loss was not finite for the last {monitor.Options.MaxNonFiniteLosses} steps (through step {step}): the run diverged and stops; {saved}. Try a lower --lr in a new run."));
            return 3;
        }

        // an outside decision (fsl watch): move the decay start, or stop
        bool stopRequested = false;
        if (settings.DecisionsFrom != null && (step + 1) % 5 == 0 && ReadDecision(settings.DecisionsFrom) is var (outsideStart, outsideStop))
        {
            if (outsideStart is long wanted && scheduler.Schedule is WsdSchedule wsd && wanted != wsd.DecayStartStep && !wsd.HasDecayBegun(step + 1))
            {
                // A start the run has already passed (the watcher decided "now" while this run went on) means the next step.
                long moved = Math.Max(wanted, step + 1);
                scheduler.MoveDecayStart(moved);
                Report(string.Create(CultureInfo.InvariantCulture,
                    $"step {step,6}  decay start moved to step {moved} by {settings.DecisionsFrom}{(moved > wanted ? $" (it said {wanted}, already past)" : "")}"));
            }
            stopRequested = outsideStop;
        }

        // checkpoint (and keep the ones asked for as branch points)
        if ((step + 1) % settings.CheckpointEvery == 0 || step + 1 == settings.StopAt || settings.CheckpointAt.Contains(step + 1))
        {
            SaveCheckpoint(step + 1);
            if (settings.CheckpointAt.Contains(step + 1)) run.KeepCheckpoint(step + 1);
        }
        if (signal.HasFlag(TrainingSignal.Stop) || step + 1 == settings.StopAt || stopRequested)
        {
            step++;
            break;
        }
    }
    monitor.OnRunEnd(step);

    // ---- summary and plots ------------------------------------------------------------------------------------------------
    var asRun = scheduler.Schedule;
    IReadOnlyList<ForecastCheck> checks = step < total ? [] : RunSummary.CheckForecasts(run.File("forecasts.jsonl"), asRun, total);
    Plots.Loss(run.File("loss.png"), monitor.Tracker, monitor.LatestForecast, checks, (asRun as WsdSchedule)?.DecayStartStep, total);
    Plots.LearningRate(run.File("lr.png"), planned, asRun, total);
    bool aborted = step < total && monitor.StopReason != null && settings.AbortAbove != null;
    if (step < total && !aborted)
    {
        Report($"stopped after step {step - 1}{(monitor.StopReason != null ? ": " + monitor.StopReason : "")}; resume with --resume {run.Path}");
        return 0;
    }
    var started = monitor.Controller?.Decisions.LastOrDefault(d => d.StartNow);
    string? outsideMove = settings.DecisionsFrom != null && planned is WsdSchedule plannedWsd && asRun is WsdSchedule ranWsd && plannedWsd.DecayStartStep != ranWsd.DecayStartStep
        ? string.Create(CultureInfo.InvariantCulture, $"moved from step {plannedWsd.DecayStartStep} by {settings.DecisionsFrom}")
        : null;
    // An aborted run is finished: its summary holds the losses where it stopped and says why.
    var summary = new RunSummary(settings.Schedule, total, parameters, lastEval, monitor.Tracker.Smoothed, (asRun as WsdSchedule)?.DecayStartStep,
        started?.Reason ?? outsideMove, checks, clock.Elapsed.TotalSeconds)
    {
        MonitorSeconds = monitor.WallTime.TotalSeconds,
        ForecasterSeconds = (monitor.Forecaster.WallTime - forecasterBefore).TotalSeconds,
        FinalizerHoldSeconds = monitor.FinalizerHoldWallTime.TotalSeconds,
        BackgroundRefitSeconds = (monitor.Forecaster.BackgroundWallTime - backgroundBefore).TotalSeconds,
        ProbeSteps = monitor.Forecaster.Probes.Sum(p => (long)p.LearningRates.Count),
        ProbeSeconds = probeClock.Elapsed.TotalSeconds,
        StepsRun = step,
        AbortReason = aborted ? monitor.StopReason : null,
    };
    summary.Write(run.File("summary.json"));
    // The run's last fit: the prior of a later run of a sweep (--prior), like an fsl fit of this run's log.
    if (!aborted && monitor.LatestForecast?.Fit is { Succeeded: true } lastFit) lastFit.SaveParameters(run.File("fit.json"));
    foreach (var line in summary.Lines()) Report(line);
    Report($"run folder: {run.Path} (losses.csv, forecasts.jsonl, decisions.jsonl, config.json, summary.json, fit.json, checkpoint/, loss.png, lr.png)");
    return 0;
}

/// <summary>How a run begins: afresh, from its own last checkpoint, or from another run's checkpoint.</summary>
internal enum RunStart
{
    Fresh,
    Resume,
    Branch,
}
