// QuickStart: the smallest FslTorch run. A next-byte language model (16 bytes of context -> MLP) trains on
// English prose with AdamW and a warmup-stable-decay schedule driven by FslTorch's drop-in scheduler, while
// a TrainingMonitor refits the FSL loss-curve law (off the training thread on a GPU, inline on the CPU), forecasts
// the final loss, and starts the decay where the forecast says.
//
//   dotnet run --project samples/QuickStart -c Release [-- --steps 2000 --device auto --data <file> --background-refits auto|on|off]
//
// By default the text is the XML documentation shipped in the .NET SDK's reference pack, so nothing is
// downloaded.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using TorchSharp;
using static TorchSharp.torch;

// ---- config --------------------------------------------------------------------------------------------
var options = args.Select((a, i) => (a, i)).Where(p => p.a.StartsWith("--")).ToDictionary(p => p.a[2..], p => p.i + 1 < args.Length ? args[p.i + 1] : "");
if (options.ContainsKey("help"))
{
    Console.WriteLine("QuickStart options: --steps N (default 2000), --device auto|cpu|cuda, --data <text file>, --seed N, --background-refits auto|on|off");
    return 0;
}
long totalSteps = long.Parse(options.GetValueOrDefault("steps", "2000"), CultureInfo.InvariantCulture);
long seed = long.Parse(options.GetValueOrDefault("seed", "1"), CultureInfo.InvariantCulture);
const int context = 16, batchSize = 64, width = 128;
const double peakLearningRate = 3e-3;
var device = TorchDevices.Resolve(options.GetValueOrDefault("device"));
// Refits off the training thread where the loop leaves CPU cores idle (a GPU loop); on the CPU a fit would take a core
// from TorchSharp's threads.
bool background = options.GetValueOrDefault("background-refits", "auto") switch
{
    "on" => true,
    "off" => false,
    "auto" => device.type == DeviceType.CUDA,
    var other => throw new ArgumentException($"--background-refits {other}: expected auto, on or off."),
};
torch.manual_seed(seed);

// ---- data: bytes of English prose, the last 5% held out ------------------------------------------------
byte[] text;
try
{
    text = LoadText(options.GetValueOrDefault("data"));
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
int split = (int)(text.Length * 0.95);
var generator = new Random((int)seed);
(Tensor X, Tensor Y) Batch(int from, int to)
{
    var x = new long[batchSize * context];
    var y = new long[batchSize];
    for (int b = 0; b < batchSize; b++)
    {
        int start = generator.Next(from, to - context - 1);
        for (int t = 0; t < context; t++) x[b * context + t] = text[start + t];
        y[b] = text[start + context];
    }
    return (tensor(x, [batchSize, context], device: device), tensor(y, [batchSize], device: device));
}

// ---- model and optimizer -------------------------------------------------------------------------------
var model = nn.Sequential(
    nn.Embedding(256, 32), nn.Flatten(), nn.Linear(32 * context, width), nn.GELU(), nn.Linear(width, 256)).to(device);
var optimizer = optim.AdamW(model.parameters(), lr: peakLearningRate, weight_decay: 0.01);

// ---- FslTorch: the scheduler, and a monitor that forecasts and moves the decay start -------------------------
// The decay is planned at 95% of the budget; the monitor's controller brings it forward when a trusted forecast says
// so, which needs evidence of the decay response: a measured prior or a cooldown probe (see TinyGpt). This example
// has neither, so its forecasts show the machinery and the plan stays.
var scheduler = new FslScheduler(optimizer, Schedule.Wsd(peakLearningRate, warmupSteps: totalSteps / 10, decayStartStep: totalSteps * 95 / 100, totalSteps: totalSteps));
using var monitor = scheduler.Monitor(new TrainingMonitorOptions
{
    // Without an earlier run to calibrate on, the decay response comes from broad built-in defaults. The steps of
    // this tiny model take milliseconds, so the default interval (which keeps refits within 1% of the wall time)
    // would refit once or twice: refit every 5% instead, to show the forecasts.
    Forecaster = new ForecasterOptions { FromStep = totalSteps / 10, RefitInterval = (int)(totalSteps / 20), Prior = ParameterPrior.BuiltIn(LossCurveLaws.Default), Background = background },
});

// ---- training loop -----------------------------------------------------------------------------------------
Console.WriteLine($"QuickStart: {text.Length:N0} bytes of text, {model.parameters().Sum(p => p.numel()):N0} parameters, {totalSteps} steps on {device.type}");
var clock = Stopwatch.StartNew();
Forecast? atHalf = null;
long lastStep = totalSteps - 1;
for (long step = 0; step < totalSteps; step++)
{
    using var scope = NewDisposeScope();
    double lr = scheduler.CurrentLearningRate;
    var (x, y) = Batch(0, split);
    var loss = nn.functional.cross_entropy(model.call(x), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    scheduler.step();

    // The loss tensor itself: the monitor gathers losses on the device and reads them every few steps (no sync per step).
    var signal = monitor.OnStepEnd(step, loss);
    var forecast = monitor.LatestForecast;
    if (step % 200 == 0 || step == totalSteps - 1 || signal.HasFlag(TrainingSignal.ScheduleChanged))
    {
        string outlook = forecast == null ? "forecast: -" : $"forecast final {forecast.Describe()}";
        Console.WriteLine(FormattableString.Invariant(
            $"step {step,5}  loss {monitor.Tracker.Smoothed:F4}  lr {lr:0.000e+0}  {outlook}  decay at {((WsdSchedule)scheduler.Schedule).DecayStartStep}  {clock.Elapsed.TotalSeconds,6:F1}s"));
    }
    if (atHalf == null && step >= totalSteps / 2) atHalf = forecast;
    if (signal.HasFlag(TrainingSignal.Stop)) { lastStep = step; break; }
}
monitor.OnRunEnd(lastStep);

// ---- evaluation on held-out text -----------------------------------------------------------------------
using (no_grad())
{
    model.eval();
    double total = 0;
    const int batches = 20;
    for (int i = 0; i < batches; i++)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Batch(split, text.Length);
        total += nn.functional.cross_entropy(model.call(x), y).item<float>();
    }
    Console.WriteLine(FormattableString.Invariant($"held-out loss {total / batches:F4} nats/byte after {totalSteps} steps ({clock.Elapsed.TotalSeconds:F1}s)"));
}
Console.WriteLine(FormattableString.Invariant(
    $"training loss at the end (smoothed) {monitor.Tracker.Smoothed:F4}; forecast made at 50%: {(atHalf == null ? "none" : atHalf.FinalLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture))}"));
var start = monitor.Controller?.Decisions.LastOrDefault(d => d.StartNow);
Console.WriteLine(start == null
    ? $"the decay started at step {((WsdSchedule)scheduler.Schedule).DecayStartStep} (the plan; no forecast moved it)"
    : $"the decay started at step {start.DecayStartStep}: {start.Reason}");
return 0;

static byte[] LoadText(string? path)
{
    if (!string.IsNullOrEmpty(path))
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--data {path}: no such file.");
        var bytes = File.ReadAllBytes(path);
        return bytes.Length >= 10_000 ? bytes : throw new InvalidDataException($"--data {path}: needs at least 10,000 bytes of text, has {bytes.Length}.");
    }
    // <dotnet root>/shared/Microsoft.NETCore.App/<version>/ -> <dotnet root>/packs/Microsoft.NETCore.App.Ref/*/ref/*/*.xml
    string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
    string packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
    var files = Directory.Exists(packs)
        ? Directory.EnumerateFiles(packs, "*.xml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(40).ToList()
        : [];
    if (files.Count == 0) throw new InvalidDataException($"No .NET reference-pack documentation under {packs}; pass --data <text file>.");
    var prose = string.Join("\n", files.Select(f => Regex.Replace(File.ReadAllText(f), "<[^>]+>", " ")));
    return System.Text.Encoding.UTF8.GetBytes(Regex.Replace(prose, @"\s+", " "));
}
