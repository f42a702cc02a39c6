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
}
