namespace FslTorch.Control;

/// <summary>How an <see cref="FslScheduler"/> turns the schedule's value into each parameter group's rate.</summary>
public enum GroupScaling
{
    /// <summary>The schedule gives absolute learning rates; every parameter group gets η(k).</summary>
    Absolute,

    /// <summary>
    /// The schedule gives multipliers (build it with a peak of 1); group i gets η_i,initial·η(k), where
    /// η_i,initial is the rate the group was created with (as PyTorch's LambdaLR).
    /// </summary>
    Multiplier,
}
