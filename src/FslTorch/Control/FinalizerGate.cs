using System.Runtime.CompilerServices;

namespace FslTorch.Control;

/// <summary>
/// Holds the runtime's finalizer thread while FslTorch works off the training thread, so that background refits are
/// safe beside a TorchSharp loop. With TorchSharp 0.107 an implicit <c>Scalar</c> (or a temporary tensor) whose handle
/// was passed to a native call is unreachable during that call; a garbage collection started by another thread then
/// queues its finalizer, and the finalizer thread frees the native object while the call still uses it (TorchSharp PRs
/// #1434/#1496; a plain AdamW loop beside a thread collecting garbage crashed in 7 runs of 7 here, the 4 timed within
/// 0.8–2.6 s). A collection alone frees nothing that has a finalizer: the finalizer thread does. So the gate parks that
/// thread in a finalizer of its own before the background work starts (a gen-0 collection on the training thread,
/// which is in managed code then, queues it; the work waits until it is parked, the training thread does not) and lets
/// it go on the training thread, where every native call the loop made has returned. In between, collections go on as
/// usual and finalizers wait (the same loop held 25,000–32,000 steps beside collections every millisecond, 3 runs of 3).
/// <para>
/// Holds nest: the thread is let go when the last hold is released. Calling <c>GC.WaitForPendingFinalizers</c> while
/// a hold is out waits for its release, so a holder must be able to release without the thread it holds back (the
/// forecaster releases a finished refit's hold by itself after <see cref="ForecasterOptions.BackgroundReleaseTimeout"/>).
/// </para>
/// </summary>
internal static class FinalizerGate
{
    private static readonly object Sync = new();
    private static int _holds;
    private static ManualResetEventSlim? _open;   // set to let the parked finalizer return
    private static ManualResetEventSlim? _parked; // set once the finalizer thread is parked

    /// <summary>Whether the finalizer thread is held now.</summary>
    public static bool IsClosed
    {
        get
        {
            lock (Sync) return _holds > 0;
        }
    }

    /// <summary>Whether the finalizer thread is parked now (a hold is out and its parker has been reached).</summary>
    public static bool IsParked
    {
        get
        {
            lock (Sync) return _parked?.IsSet == true;
        }
    }

    /// <summary>
    /// Parks the finalizer thread (or joins the hold already out) and returns the hold. Call it from the training thread,
    /// between native calls: it queues the parker with a gen-0 collection and returns without waiting for the finalizer
    /// thread to reach it (it first runs the finalizers queued before, whose native calls have returned). The work that
    /// the hold covers must call <see cref="Hold.WaitParked"/> before it allocates anything, and must not start at all
    /// when that returns false.
    /// </summary>
    public static Hold Close()
    {
        lock (Sync)
        {
            if (_holds++ > 0) return new Hold(_parked!, GC.CollectionCount(0));
            _parked = new ManualResetEventSlim();
            _open = new ManualResetEventSlim();
            Park(_parked, _open);
            // The parker is unreachable now: a gen-0 collection on this thread queues its finalizer behind those already
            // queued. (Counted as one: a collection on another thread in between counts as one since the hold.)
            int collections = GC.CollectionCount(0) + 1;
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            return new Hold(_parked, collections);
        }
    }

    private static void Release()
    {
        lock (Sync)
        {
            if (--_holds > 0) return;
            _open!.Set(); // a parker that has not run yet returns at once when it does
            _open = null;
            _parked = null;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Park(ManualResetEventSlim parked, ManualResetEventSlim open) => _ = new Parker(parked, open);

    private sealed class Parker(ManualResetEventSlim parked, ManualResetEventSlim open)
    {
        ~Parker()
        {
            parked.Set();
            open.Wait();
        }
    }

    /// <summary>One hold on the finalizer thread; releasing it twice releases it once.</summary>
    internal sealed class Hold(ManualResetEventSlim parked, int collections) : IDisposable
    {
        private int _released;

        /// <summary>
        /// Whether a garbage collection has run since the hold was taken (its own, that queued the parker, aside). Only
        /// a collection queues finalizers: without one, the thread has nothing new held back.
        /// </summary>
        public bool CollectedSince => GC.CollectionCount(0) != collections;

        /// <summary>
        /// Waits (without allocating) until the finalizer thread is parked; false after <paramref name="timeout"/> (it runs
        /// a long finalizer of someone else's): the work must then not run, since its collections would not be covered.
        /// </summary>
        public bool WaitParked(TimeSpan timeout)
        {
            // Polled: ManualResetEventSlim.Wait would allocate its lock object on first use.
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (!parked.IsSet)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(start) > timeout) return false;
                Thread.Sleep(1);
            }
            return true;
        }

        /// <summary>Whether the hold has been released.</summary>
        public bool IsReleased => Volatile.Read(ref _released) != 0;

        /// <summary>Releases the hold; false when it was released already.</summary>
        public bool TryRelease()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return false;
            FinalizerGate.Release();
            return true;
        }

        public void Dispose() => TryRelease();
    }
}
