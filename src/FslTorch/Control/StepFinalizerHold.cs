namespace FslTorch.Control;

/// <summary>
/// Keeps the runtime's finalizer thread parked while a TorchSharp loop runs its steps and lets the finalizers held back
/// run at the loop's step ends (<see cref="TrainingMonitorOptions.HoldFinalizersDuringSteps"/>). With TorchSharp 0.107
/// a garbage collection started by any other thread (a logger's writer, a timer, the runtime's own) while the training
/// thread is inside a native call can finalize that call's implicit <c>Scalar</c> (TorchSharp PRs #1434/#1496); one
/// TinyGpt run with inline refits aborted that way in <c>Tensor.add</c> after 2,519 steps (README, "What happens when things go wrong").
/// Held, such finalizers wait in the queue; at a step end, where the training thread is between native calls, every
/// call they could belong to has returned, so they may run: the hold is let go and taken anew (<see cref="FinalizerGate"/>).
/// </summary>
/// <remarks>
/// Taking the hold anew costs a gen-0 collection on the training thread, so it is done at most once per
/// <see cref="CycleInterval"/>, and only when a collection has run since it was taken (only collections queue
/// finalizers; in a TinyGpt run 63 of 70 one-second cycles had none), or at least once per <see cref="IdleCycleInterval"/>
/// (for the finalizers that the hold's own collection queued behind its parker). A step end that does not take it
/// anew renews it (re-arms the release below, without a collection). In between the hold stays out and the finalizers of
/// that stretch wait. A loop that calls <c>GC.WaitForPendingFinalizers</c> while the hold is out waits for its release:
/// a hold that no step end renewed for <see cref="ReleaseAfter"/> lets the thread go by itself (the next step end takes it
/// again).
/// </remarks>
internal sealed class StepFinalizerHold : IDisposable
{
    /// <summary>How often at most a step end lets the held-back finalizers run and parks the thread again.</summary>
    public static readonly TimeSpan CycleInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often at most a step end takes the hold anew when no collection has run since it was taken.</summary>
    public static readonly TimeSpan IdleCycleInterval = TimeSpan.FromSeconds(10);

    /// <summary>How long a hold lasts without a step end before it lets the thread go by itself.</summary>
    public static readonly TimeSpan ReleaseAfter = TimeSpan.FromSeconds(30);

    private FinalizerGate.Hold? _hold;
    private long _taken;   // timestamp of the last time the hold was taken
    private long _renewed; // timestamp of the last time it was taken or renewed
    private readonly Timer _timer;
    private bool _disposed;

    private readonly TimeSpan _cycleInterval, _idleCycleInterval, _releaseAfter;

    public StepFinalizerHold() : this(CycleInterval, IdleCycleInterval, ReleaseAfter)
    {
    }

    /// <summary>A hold with other intervals than the defaults (tests).</summary>
    internal StepFinalizerHold(TimeSpan cycleInterval, TimeSpan idleCycleInterval, TimeSpan releaseAfter)
    {
        _cycleInterval = cycleInterval;
        _idleCycleInterval = idleCycleInterval;
        _releaseAfter = releaseAfter;
        _timer = new Timer(_ => Volatile.Read(ref _hold)?.TryRelease(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The wall time the step ends spent taking the hold (anew): the hold's cost to the loop.</summary>
    public TimeSpan WallTime { get; private set; }

    /// <summary>How many times the step ends have taken the hold (anew), each with a collection.</summary>
    public int Takes { get; private set; }

    /// <summary>
    /// At a step end, on the training thread, between its native calls: takes the hold, or, once per
    /// <see cref="CycleInterval"/>, lets the finalizers held back run and takes it anew (when a collection has queued any
    /// since it was taken, or <see cref="IdleCycleInterval"/> has passed), else renews it.
    /// </summary>
    public void AtStepEnd()
    {
        if (_disposed) return;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        // (The release timer is armed when the hold is taken or renewed: a loop that stops calling lets the thread go at
        // most one CycleInterval later than ReleaseAfter after its last step end, and a step costs no timer call.)
        var hold = _hold;
        if (hold is { IsReleased: false })
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(_renewed, now) < _cycleInterval) return;
            if (!hold.CollectedSince && System.Diagnostics.Stopwatch.GetElapsedTime(_taken, now) < _idleCycleInterval)
            {
                _renewed = now;
                _timer.Change(_releaseAfter, Timeout.InfiniteTimeSpan);
                WallTime += System.Diagnostics.Stopwatch.GetElapsedTime(now);
                return;
            }
        }
        hold?.TryRelease();
        Volatile.Write(ref _hold, FinalizerGate.Close());
        _taken = _renewed = now;
        Takes++;
        _timer.Change(_releaseAfter, Timeout.InfiniteTimeSpan);
        WallTime += System.Diagnostics.Stopwatch.GetElapsedTime(now);
    }

    /// <summary>Lets the finalizer thread go for good.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _timer.Dispose();
        _hold?.TryRelease();
    }
}
