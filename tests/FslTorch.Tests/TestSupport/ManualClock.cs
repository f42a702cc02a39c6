namespace FslTorch.Tests.TestSupport;

/// <summary>A clock the test moves by hand, in ticks of 100 ns; read atomically, since a background refit may read it.</summary>
internal sealed class ManualClock : TimeProvider
{
    public long Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref Ticks);
}
