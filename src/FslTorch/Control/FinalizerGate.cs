using System.Runtime.CompilerServices;

namespace FslTorch.Control;

/// <summary>
/// Holds the runtime's finalizer thread while FslTorch works off the training thread, so that background refits are
/// safe beside a TorchSharp loop. With TorchSharp 0.107 an implicit <c>Scalar</c> (or a temporary tensor) whose handle
/// was passed to a native call is unreachable during that call; a garbage collection started by another thread then
/// queues its finalizer, and the finalizer thread frees the native object while the call still uses it (TorchSharp PRs
/// #1434/#1496; a plain AdamW loop beside a thread collecting garbage crashed within 1–3 s in 7 runs of 7 here). A
/// collection alone frees nothing that has a finalizer: the finalizer thread does. So the gate parks that thread in a
/// finalizer of its own before the background work starts (a gen-0 collection on the training thread, which is in
/// managed code then, queues it) and lets it go on the training thread, where every native call the loop made has
/// returned. In between, collections go on as usual and finalizers wait (the same loop held 25,000–32,000 steps
/// beside collections every millisecond, 3 runs of 3).
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
    private static ManualResetEventSlim? _open; // set to let the parked finalizer return

    /// <summary>Whether the finalizer thread is held now.</summary>
    public static bool IsClosed
    {
        get
        {
            lock (Sync) return _holds > 0;
        }
    }

    /// <summary>
    /// Parks the finalizer thread (or joins the hold already out) and returns the hold; null when the thread did not
    /// come within <paramref name="timeout"/> (it runs a long finalizer of someone else's): the caller must then not
    /// start work that collects garbage beside the loop. Call it from the training thread, between native calls.
    /// </summary>
    public static Hold? Close(TimeSpan timeout)
    {
        lock (Sync)
        {
            if (_holds > 0)
            {
                _holds++;
                return new Hold();
            }
            var entered = new ManualResetEventSlim();
            var open = new ManualResetEventSlim();
            Park(entered, open);
            var deadline = DateTime.UtcNow + timeout;
            do
            {
                // The parker is unreachable now: a gen-0 collection on this thread queues its finalizer behind those
                // already queued (whose native calls have returned, since this thread is here).
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            }
            while (!entered.Wait(TimeSpan.FromMilliseconds(50)) && DateTime.UtcNow < deadline);
            if (!entered.IsSet)
            {
                open.Set(); // when it does run, it returns at once
                return null;
            }
            _open = open;
            _holds = 1;
            return new Hold();
        }
    }

    private static void Release()
    {
        lock (Sync)
        {
            if (--_holds > 0) return;
            _open!.Set();
            _open = null;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Park(ManualResetEventSlim entered, ManualResetEventSlim open) => _ = new Parker(entered, open);

    private sealed class Parker(ManualResetEventSlim entered, ManualResetEventSlim open)
    {
        ~Parker()
        {
            entered.Set();
            open.Wait();
        }
    }

    /// <summary>One hold on the finalizer thread; releasing it twice releases it once.</summary>
    internal sealed class Hold : IDisposable
    {
        private int _released;

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
