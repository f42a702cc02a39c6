using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace FslTorch.Tests.Docs;

/// <summary>
/// The README's C# code blocks, compiled here in order (each between a begin and an end marker comment);
/// <see cref="ReadmeTests"/> checks that they stay identical.
/// </summary>
internal static class ReadmeExample
{
    public static (double FirstLoss, double LastLoss, double LastLearningRate) Run()
    {
        double first = double.NaN, last = double.NaN;
        // README:begin
        var model = torch.nn.Linear(16, 1);
        var optimizer = torch.optim.AdamW(model.parameters(), lr: 3e-4);
        // The one line that replaces your scheduler: 100 warmup steps, then stable, then a linear cooldown over the last 20%.
        var scheduler = new FslScheduler(optimizer, Schedule.Wsd(3e-4, warmupSteps: 100, decayStartStep: 800, totalSteps: 1000));
        for (int step = 0; step < 1000; step++)
        {
            using var scope = torch.NewDisposeScope();
            var loss = (model.call(torch.randn(32, 16)) - 1).pow(2).mean();
            optimizer.zero_grad(); loss.backward(); optimizer.step();
            scheduler.step();
            // README:end
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        return (first, last, optimizer.ParamGroups.Single().LearningRate);
    }

    /// <summary>The "During training" block (compiled; it would train 10,000 steps).</summary>
    public static void DuringTraining(torch.nn.Module<torch.Tensor, torch.Tensor> model, torch.optim.Optimizer optimizer, FitResult calibrationFit, ILogger logger)
    {
        // README:begin
        var scheduler = new FslScheduler(optimizer, Schedule.Wsd(3e-4, warmupSteps: 100, decayStartStep: 8_000, totalSteps: 10_000));
        var monitor = scheduler.Monitor(new TrainingMonitorOptions
        {
            Forecaster = new ForecasterOptions { Prior = ParameterPrior.FromFit(calibrationFit, 0.1, LossCurveLaws.Default.DecayResponseParameters) },
        }, logger);
        for (long step = 0; step < 10_000; step++)
        {
            using var scope = torch.NewDisposeScope();
            var loss = (model.call(torch.randn(32, 16)) - 1).pow(2).mean();
            optimizer.zero_grad(); loss.backward(); optimizer.step(); scheduler.step();
            var signal = monitor.OnStepEnd(step, loss); // the loss tensor: read every 16 steps, no device sync per step
            if (signal.HasFlag(TrainingSignal.Forecast)) logger.LogInformation("forecast {Forecast}", monitor.LatestForecast!.Describe());
            if (signal.HasFlag(TrainingSignal.Stop)) break;
        }
        monitor.OnRunEnd(10_000);
        // README:end
    }

    /// <summary>The sweep block (compiled; it would train five runs of 10,000 steps).</summary>
    public static void Sweep(Func<double, (torch.nn.Module<torch.Tensor, torch.Tensor>, torch.optim.Optimizer)> newRun, ILogger logger)
    {
        // README:begin
        var sweep = new EarlyAbortSweep(margin: 0.02); // stop a run once it is forecast to end 0.02 nats above the best finished one
        foreach (double peak in EarlyAbortSweep.MiddleOut([1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]))
        {
            var (net, adamw) = newRun(peak); // a fresh model and optimizer for each run
            var runScheduler = new FslScheduler(adamw, Schedule.Wsd(peak, warmupSteps: 100, decayStartStep: 8_000, totalSteps: 10_000));
            using var runMonitor = runScheduler.Monitor(sweep.OptionsFor(peak, new TrainingMonitorOptions()), logger);
            long taken = 0;
            while (taken < 10_000)
            {
                using var scope = torch.NewDisposeScope();
                var loss = (net.call(torch.randn(32, 16)) - 1).pow(2).mean();
                adamw.zero_grad(); loss.backward(); adamw.step(); runScheduler.step();
                if (runMonitor.OnStepEnd(taken++, loss).HasFlag(TrainingSignal.Stop)) break;
            }
            runMonitor.OnRunEnd(taken);
            sweep.Record(peak, runMonitor, taken, runMonitor.Tracker.Smoothed);
        }
        logger.LogInformation("best peak LR {Peak}; {Saved:P0} of the sweep's steps saved", sweep.Best!.Setting, sweep.SavedShare);
        // README:end
    }

    /// <summary>The fitting block.</summary>
    public static void Fitting(IReadOnlyList<double> otherRunLearningRates)
    {
        // README:begin
        var curves = new[] { ObservedCurve.FromCsv("run-a.csv"), ObservedCurve.FromCsv("run-b.csv") }; // step,lr,loss
        FitResult fit = LawFitter.Fit(LossCurveLaws.ForRuns(curves), curves);         // never throws for a bad fit
        if (fit.Succeeded) Console.WriteLine(fit.Predict(otherRunLearningRates, [9999])[0]);
        // README:end
    }

    /// <summary>The proxy-sizes block.</summary>
    public static void Proxies(IReadOnlyList<double> bigRunLearningRates)
    {
        // README:begin
        var proxies = new[] { ("w32.csv", 62_000.0), ("w64.csv", 220_000.0), ("w96.csv", 480_000.0) }; // a log and a model size each
        SizeLawFit sizes = SizeLawFitter.Fit(LossCurveLaws.Default, proxies.Select(p => new SizedCurve(ObservedCurve.FromCsv(p.Item1), p.Item2)).ToList());
        if (sizes.Succeeded) Console.WriteLine(sizes.ForSize(842_496).Predict(bigRunLearningRates, [2999])[0]); // a size no run had
        // README:end
    }
}
