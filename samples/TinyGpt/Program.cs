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
var steps = new Option<long?>("--steps") { Description = "Training steps (the budget N)." };
var layers = new Option<int?>("--layers") { Description = "Transformer blocks." };
var width = new Option<int?>("--width") { Description = "Model width." };
var heads = new Option<int?>("--heads") { Description = "Attention heads (must divide the width)." };
var context = new Option<int?>("--context") { Description = "Context length in tokens (bytes)." };
var batch = new Option<int?>("--batch") { Description = "Sequences per step." };
var lr = new Option<double?>("--lr") { Description = "Peak learning rate." };
var data = new Option<string?>("--data") { Description = "A UTF-8 text file or folder; the .NET SDK's XML documentation by default." };
var device = new Option<string>("--device") { Description = "cpu (default), cuda, cuda:N or auto.", DefaultValueFactory = _ => "cpu" };
var threads = new Option<int?>("--threads") { Description = "CPU threads for TorchSharp." };
var seed = new Option<long?>("--seed") { Description = "Seed of initialisation and data order." };
var output = new Option<string?>("--out") { Description = "Run folder (default runs/tinygpt)." };
var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint." };
var prior = new Option<string?>("--prior") { Description = "A parameter file (fsl fit of a calibration run) for the decay-response prior." };
var fixedSchedule = new Option<bool>("--no-control") { Description = "Keep the planned WSD schedule (no decay switching)." };
var stopAt = new Option<long?>("--stop-at") { Description = "Stop after this step as if interrupted (then --resume)." };
var root = new RootCommand("TinyGpt: GPT pre-training with FslTorch forecasts.")
    { preset, steps, layers, width, heads, context, batch, lr, data, device, threads, seed, output, resume, prior, fixedSchedule, stopAt };
root.SetAction(parse =>
{
    try
    {
        Settings settings;
        string? resumeFolder = parse.GetValue(resume);
        if (resumeFolder != null)
        {
            settings = RunFolder.ReadConfig(resumeFolder) with { Out = resumeFolder, StopAt = parse.GetValue(stopAt) };
        }
        else
        {
            var basis = Settings.Preset(parse.GetValue(preset)!);
            settings = basis with
            {
                Steps = parse.GetValue(steps) ?? basis.Steps,
                Layers = parse.GetValue(layers) ?? basis.Layers,
                Width = parse.GetValue(width) ?? basis.Width,
                Heads = parse.GetValue(heads) ?? basis.Heads,
                Context = parse.GetValue(context) ?? basis.Context,
                Batch = parse.GetValue(batch) ?? basis.Batch,
                PeakLearningRate = parse.GetValue(lr) ?? basis.PeakLearningRate,
                Data = parse.GetValue(data),
                Device = parse.GetValue(device)!,
                Threads = parse.GetValue(threads) ?? basis.Threads,
                Seed = parse.GetValue(seed) ?? basis.Seed,
                Out = parse.GetValue(output) ?? basis.Out,
                ControlDecay = !parse.GetValue(fixedSchedule),
                Prior = parse.GetValue(prior),
                StopAt = parse.GetValue(stopAt),
            };
            settings = settings with
            {
                EvalEvery = (int)Math.Max(1, settings.Steps / 10),
                CheckpointEvery = (int)Math.Max(1, settings.Steps / 4),
            };
        }
        settings.Validate();
        return Train(settings, resumeFolder != null);
    }
    catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException or JsonException)
    {
        Console.Error.WriteLine($"tinygpt: {e.Message}");
        return 2;
    }
});
return root.Parse(args).Invoke();

static int Train(Settings settings, bool resuming)
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
    if (!resuming) run.WriteConfig(settings);
    var compute = TorchDevices.Resolve(settings.Device);
    torch.set_num_threads(settings.Threads);

    // ---- data: bytes of text, whole documents held out across the corpus ----------------------------------------
    var corpus = TextCorpus.Load(settings.Data, minimumBytes: settings.Context * settings.Batch * 4);
    (Tensor X, Tensor Y) Batch(byte[] text, Random random)
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
    using var model = new GptModel(new GptConfig(256, settings.Layers, settings.Width, settings.Heads, settings.Context));
    model.to(compute);
    using var optimizer = optim.AdamW(model.parameters(), lr: settings.PeakLearningRate, beta2: 0.95, weight_decay: settings.WeightDecay);
    long parameters = model.parameters().Sum(p => p.numel());

    // ---- FslTorch: a WSD schedule planned with a 5% cooldown; the monitor moves its decay start ------------------
    long total = settings.Steps;
    long warmup = (long)Math.Max(1, settings.WarmupFraction * total);
    var planned = new WsdSchedule(settings.PeakLearningRate, warmup, WsdSchedule.DecayStartForFraction(total, 0.05), total,
        DecayShape.Linear, DecayTarget.Zero, settings.PeakLearningRate / 100);
    var schedule = new MovableWsdSchedule(planned);
    var scheduler = new FslScheduler(optimizer, schedule);
    var law = LossCurveLaws.Default;
    var monitor = TrainingMonitor.For(scheduler, total, new TrainingMonitorOptions
    {
        Forecaster = new ForecasterOptions
        {
            Law = law,
            FromStep = warmup,
            Prior = settings.Prior != null ? ParameterPrior.FromFile(settings.Prior, law, 0.1) : ParameterPrior.BuiltIn(law),
        },
        DecayControl = settings.ControlDecay ? new DecayControllerOptions() : null,
    }, logger);

    // ---- resume: model, optimizer, scheduler (with the moved decay start), monitor -------------------------------
    long first = 0;
    if (resuming && run.HasCheckpoint)
    {
        model.load(run.CheckpointFile("model.bin"));
        optimizer.load_state_dict(run.CheckpointFile("optimizer.bin"));
        scheduler.LoadStateFile(run.CheckpointFile("scheduler.json"));
        monitor.LoadStateFile(run.CheckpointFile("monitor.json"));
        first = scheduler.CurrentStep;
    }
    run.PrepareLogs(first);
    Report(string.Create(CultureInfo.InvariantCulture,
        $"TinyGpt: {parameters:N0} parameters, {corpus.Train.Length:N0} training bytes from {corpus.Source} ({corpus.HeldOut.Length:N0} held out), {total} steps on {compute.type}{(first > 0 ? $", resuming at step {first}" : "")}"));

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
            sum += nn.functional.cross_entropy(model.call(x).view(-1, 256), y.view(-1)).item<float>();
        }
        model.train();
        return sum / settings.EvalBatches;
    }

    // ---- training loop -------------------------------------------------------------------------------------------------
    var clock = Stopwatch.StartNew();
    Forecast? shown = null, atHalf = null;
    int seenDecisions = monitor.Controller?.Decisions.Count ?? 0;
    long step = first;
    double lastEval = double.NaN;
    for (; step < total; step++)
    {
        // the batch of a step depends on the seed and the step alone, so a resumed run sees the same data
        var random = new Random(unchecked((int)(settings.Seed * 1_000_003 + step)));
        double rate = scheduler.CurrentLearningRate;
        double value;
        using (var scope = NewDisposeScope())
        {
            var (x, y) = Batch(corpus.Train, random);
            var loss = nn.functional.cross_entropy(model.call(x).view(-1, 256), y.view(-1));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            value = loss.item<float>();
        }
        scheduler.step();
        var signal = monitor.OnStepEnd(step, rate, value);

        // evaluate, log, record forecasts and decisions
        double? evalLoss = null;
        if ((step + 1) % settings.EvalEvery == 0 || step == total - 1)
        {
            lastEval = Evaluate();
            evalLoss = lastEval;
            monitor.OnEvaluationEnd(step, lastEval);
        }
        run.AppendLoss(step, rate, value, evalLoss);
        var forecast = monitor.LatestForecast;
        if (forecast != null && forecast != shown)
        {
            run.AppendForecast(forecast);
            shown = forecast;
        }
        if (atHalf == null && step >= total / 2 && forecast != null) atHalf = forecast;
        var decisions = monitor.Controller?.Decisions;
        for (; decisions != null && seenDecisions < decisions.Count; seenDecisions++) run.AppendDecision(decisions[seenDecisions]);
        if (step % Math.Max(1, total / 20) == 0 || evalLoss != null || signal.HasFlag(TrainingSignal.ScheduleChanged))
        {
            double tokensPerSecond = (step + 1 - first) * (double)settings.Batch * settings.Context / clock.Elapsed.TotalSeconds;
            string outlook = forecast == null ? "forecast -" : string.Create(CultureInfo.InvariantCulture, $"forecast {forecast.FinalLoss:F3} [{forecast.Lower:F3}, {forecast.Upper:F3}]");
            Report(string.Create(CultureInfo.InvariantCulture,
                $"step {step,6}  loss {monitor.Tracker.Smoothed:F4}{(evalLoss is double e ? $"  eval {e:F4}" : "")}  lr {rate:0.00e+0}  {tokensPerSecond,7:F0} tok/s  {outlook}  decay at {schedule.DecayStartStep}"));
        }

        // checkpoint
        if ((step + 1) % settings.CheckpointEvery == 0 || step + 1 == settings.StopAt)
        {
            model.save(run.CheckpointFile("model.bin"));
            optimizer.save_state_dict(run.CheckpointFile("optimizer.bin"));
            scheduler.SaveStateFile(run.CheckpointFile("scheduler.json"));
            monitor.SaveStateFile(run.CheckpointFile("monitor.json"));
            File.WriteAllText(run.CheckpointFile("progress.json"), JsonSerializer.Serialize(new { next_step = step + 1 }));
        }
        if (signal.HasFlag(TrainingSignal.Stop) || step + 1 == settings.StopAt)
        {
            step++;
            break;
        }
    }
    monitor.OnRunEnd(step);

    // ---- summary and plots ------------------------------------------------------------------------------------------------
    Plots.Loss(run.File("loss.png"), monitor.Tracker, monitor.LatestForecast);
    Plots.LearningRate(run.File("lr.png"), planned, schedule.Current, total);
    if (step < total)
    {
        Report($"stopped after step {step - 1}{(monitor.StopReason != null ? ": " + monitor.StopReason : "")}; resume with --resume {run.Path}");
        return 0;
    }
    var started = monitor.Controller?.Decisions.LastOrDefault(d => d.StartNow);
    Report(string.Create(CultureInfo.InvariantCulture, $"final eval loss {lastEval:F4}, final training loss (smoothed) {monitor.Tracker.Smoothed:F4}"));
    Report(atHalf == null
        ? "no forecast was available at 50% of training"
        : string.Create(CultureInfo.InvariantCulture, $"forecast made at step {atHalf.Step} (50%): final training loss {atHalf.FinalLoss:F4} [{atHalf.Lower:F4}, {atHalf.Upper:F4}]; actual {monitor.Tracker.Smoothed:F4}"));
    Report(started == null
        ? $"the decay started at step {schedule.DecayStartStep}, as planned"
        : $"the decay started at step {started.DecayStartStep} (cooldown {(double)(total - started.DecayStartStep) / total:P0}): {started.Reason}");
    Report($"run folder: {run.Path} (losses.csv, forecasts.jsonl, decisions.jsonl, config.json, checkpoint/, loss.png, lr.png)");
    return 0;
}
