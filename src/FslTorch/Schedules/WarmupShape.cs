namespace FslTorch.Schedules;

/// <summary>How a warmup rises from its initial rate to the peak.</summary>
public enum WarmupShape
{
    /// <summary>η(k) = η_init + (η_peak − η_init)·k/W.</summary>
    Linear,
    /// <summary>η(k) = η_init + (η_peak − η_init)·(1 − cos(πk/W))/2.</summary>
    Cosine,
}
