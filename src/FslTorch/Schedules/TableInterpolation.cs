namespace FslTorch.Schedules;

/// <summary>How a <see cref="TableSchedule"/> fills steps between its rows.</summary>
public enum TableInterpolation
{
    /// <summary>The rate of the last row at or before the step.</summary>
    Hold,
    /// <summary>Linear interpolation between the surrounding rows.</summary>
    Linear,
}
