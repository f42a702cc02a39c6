using Microsoft.Extensions.Logging;

namespace FslTorch.Control;

/// <summary>The library's log messages (source-generated).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Decay decision at step {Step}: {Action} (start {Start}, predicted final loss {Loss:F4}, gain of waiting {Gain:F4} ± {Uncertainty:F4}): {Reason}")]
    public static partial void DecayDecision(ILogger logger, long step, string action, long start, double loss, double gain, double uncertainty, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Decay decision at step {Step} failed; the schedule stays as it was.")]
    public static partial void DecayDecisionFailed(ILogger logger, Exception exception, long step);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Forecast at step {Step}: final loss {Forecast} ({Law}, {Points} points, fit {Seconds:F2} s).")]
    public static partial void ForecastUpdated(ILogger logger, long step, string forecast, string law, int points, double seconds);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Refit at step {Step} failed ({Reason}: {Message}); the previous forecast stays in force.")]
    public static partial void RefitFailed(ILogger logger, long step, string reason, string message);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning,
        Message = "Refit at step {Step} ran past its time limit ({Seconds:F0} s, ForecasterOptions.FitTimeLimit) and was given up; the previous forecast stays in force.")]
    public static partial void RefitTimedOut(ILogger logger, long step, double seconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Refit at step {Step} threw; the previous forecast stays in force.")]
    public static partial void RefitThrew(ILogger logger, Exception exception, long step);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Early stop at step {Step}: {Reason}")]
    public static partial void EarlyStop(ILogger logger, long step, string reason);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "FslTorch failed at step {Step}; the schedule stays as it was and training goes on.")]
    public static partial void MonitorFailed(ILogger logger, Exception exception, long step);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning,
        Message = "The last {Count} losses (through step {Step}) were not finite: the run looks diverged. No forecasts or decisions until a finite loss comes back.")]
    public static partial void Diverged(ILogger logger, long count, long step);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information,
        Message = "Refit at step {Step}: the law did not follow the run's recent past; fits start at step {Start} from now on (were {Before}), where it extrapolates best.")]
    public static partial void FitStartChosen(ILogger logger, long step, long start, long before);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Writing TensorBoard events to {Folder} failed at step {Step}; no more are written, training goes on.")]
    public static partial void TensorBoardFailed(ILogger logger, Exception exception, long step, string folder);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning,
        Message = "The background refit of step {Step} finished {Seconds:F0} s ago and the loop has not come back for it (does it call GC.WaitForPendingFinalizers?): the finalizer thread was let go, and refits run inline from now on.")]
    public static partial void BackgroundNotCollected(ILogger logger, long step, double seconds);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning,
        Message = "The runtime's finalizer thread did not come within {Seconds:F0} s (a long finalizer elsewhere?): the background refit started at step {Step} did not run, and refits run inline from now on.")]
    public static partial void FinalizerThreadBusy(ILogger logger, long step, double seconds);
}
