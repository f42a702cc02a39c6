using FslTorch.Schedules;
using Xunit;

namespace FslTorch.Tests.Schedules;

internal static class ScheduleAssert
{
    public const double Tolerance = 1e-15;

    public static void Close(double expected, double actual, double relative = 1e-12) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(Math.Abs(expected), 1e-300) + Tolerance,
            $"expected {expected:R}, got {actual:R}");

    public static void NonIncreasing(LearningRateSchedule schedule, long from, long to)
    {
        for (long k = from; k < to; k++)
        {
            Assert.True(schedule.GetLearningRate(k + 1) <= schedule.GetLearningRate(k) + Tolerance,
                $"rate rises from step {k} ({schedule.GetLearningRate(k):R}) to {k + 1} ({schedule.GetLearningRate(k + 1):R})");
        }
    }

    public static void NonDecreasing(LearningRateSchedule schedule, long from, long to)
    {
        for (long k = from; k < to; k++)
        {
            Assert.True(schedule.GetLearningRate(k + 1) >= schedule.GetLearningRate(k) - Tolerance,
                $"rate falls from step {k} to {k + 1}");
        }
    }

    public static void ThrowsFor(string parameter, Action construct)
    {
        var error = Assert.ThrowsAny<ArgumentException>(construct);
        Assert.Equal(parameter, error.ParamName);
        Assert.Contains(parameter, error.Message);
    }
}
