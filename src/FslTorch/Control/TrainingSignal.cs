namespace FslTorch.Control;

/// <summary>What a training callback asks of the loop after a step or an evaluation.</summary>
[Flags]
public enum TrainingSignal
{
    /// <summary>Carry on.</summary>
    None = 0,
    /// <summary>Stop training now (after saving what you save at the end).</summary>
    Stop = 1,
    /// <summary>The LR schedule changed (e.g. the decay start moved); the scheduler already applies it.</summary>
    ScheduleChanged = 2,
    /// <summary>
    /// The last <see cref="TrainingMonitorOptions.MaxNonFiniteLosses"/> losses (or more) were NaN or infinite: the run
    /// looks diverged, and the monitor neither forecasts nor decides until a finite loss comes back. The loop decides
    /// what to do (stop, restore a checkpoint, lower the LR).
    /// </summary>
    Diverged = 4,
    /// <summary>A new forecast came into force at this step (<see cref="TrainingMonitor.LatestForecast"/>).</summary>
    Forecast = 8,
    /// <summary>The decay controller made a decision at this step (the last of <see cref="WsdDecayController.Decisions"/>).</summary>
    Decision = 16,
}
