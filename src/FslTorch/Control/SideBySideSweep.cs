namespace FslTorch.Control;

/// <summary>
/// A sweep whose runs advance together — in parallel on several devices, or interleaved on one — in which a run is stopped
/// once its calibrated forecast band lies above the best the sweep can already count on by more than <see cref="Margin"/>:
/// the lowest calibrated forecast final loss among the runs still going, or the lowest final loss of a finished run.
/// Unlike <see cref="EarlyAbortSweep"/>, which runs one setting after another and compares each with the runs that
/// finished before it, no run has to finish first, so the first run need not run whole.
/// <para>
/// Only calibrated forecasts (<see cref="ForecastRecord.Calibrated"/>) count, on both sides: a run whose forecast cannot
/// be trusted is neither stopped nor sets the bar for others. A run's own forecast never stops it (its band contains
/// it). A stopped run stays stopped; its later reports are ignored.
/// </para>
/// <code>
/// var sweep = new SideBySideSweep&lt;double&gt;(margin: 0.05);
/// // at each check (e.g. every 5% of the budget), for every run still going:
/// sweep.Report(lr, monitor.Forecasts[^1]);
/// foreach (double lr in sweep.Check()) StopRun(lr);
/// // a run that reaches the end: sweep.Finish(lr, finalLoss);
/// </code>
/// </summary>
/// <typeparam name="TKey">What tells the runs apart (a peak LR, a model size, a name).</typeparam>
public sealed class SideBySideSweep<TKey> where TKey : notnull
{
    private readonly Dictionary<TKey, ForecastRecord> _latest = [];
    private readonly Dictionary<TKey, double> _finished = [];
    private readonly Dictionary<TKey, string> _stopped = [];

    /// <param name="margin">A run is stopped once its forecast band's lower edge lies above the sweep's best by more than this (nats, ≥ 0).</param>
    public SideBySideSweep(double margin)
    {
        if (!(margin >= 0) || double.IsPositiveInfinity(margin)) throw new ArgumentOutOfRangeException(nameof(margin), margin, "margin must be a finite number >= 0.");
        Margin = margin;
    }

    /// <summary>
    /// The steps after which a sweep of <paramref name="totalSteps"/>-step runs checks, every <paramref name="every"/> of the
    /// budget (the last step of each stretch, 0-based), in order and without the budget's last step, where every run ends.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="every"/> is not in (0, 0.5], or <paramref name="totalSteps"/> &lt; 2.</exception>
    public static IReadOnlyList<long> CheckSteps(long totalSteps, double every)
    {
        if (!(every > 0 && every <= 0.5)) throw new ArgumentOutOfRangeException(nameof(every), every, "every must lie in (0, 0.5].");
        if (totalSteps < 2) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "A sweep's runs need at least two steps.");
        return Enumerable.Range(1, (int)Math.Ceiling(1 / every)).Select(i => (long)Math.Round(i * every * totalSteps) - 1)
            .Where(k => k >= 0 && k < totalSteps - 1).Distinct().ToList();
    }

    /// <summary>How far (nats) above the sweep's best a run's band must lie to stop it.</summary>
    public double Margin { get; }

    /// <summary>The runs stopped so far, with the reason for each.</summary>
    public IReadOnlyDictionary<TKey, string> Stopped => _stopped;

    /// <summary>Records the latest forecast of a run still going (the newest of <see cref="TrainingMonitor.Forecasts"/>, or one read from a run's log); ignored for a stopped or finished run.</summary>
    public void Report(TKey run, ForecastRecord forecast)
    {
        ArgumentNullException.ThrowIfNull(forecast);
        if (_stopped.ContainsKey(run) || _finished.ContainsKey(run)) return;
        _latest[run] = forecast;
    }

    /// <summary>Records a run that reached the end of its budget, with its final loss: from then on the bar for the others.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="finalLoss"/> is not finite.</exception>
    /// <exception cref="InvalidOperationException">The run was stopped.</exception>
    public void Finish(TKey run, double finalLoss)
    {
        if (!double.IsFinite(finalLoss)) throw new ArgumentOutOfRangeException(nameof(finalLoss), finalLoss, "The final loss must be finite.");
        if (_stopped.ContainsKey(run)) throw new InvalidOperationException($"Run {run} was stopped; it cannot finish.");
        _latest.Remove(run);
        _finished[run] = finalLoss;
    }

    /// <summary>
    /// The best the sweep can count on now: the lowest final loss of a finished run or calibrated forecast of a run still
    /// going (null when there is neither).
    /// </summary>
    public double? Best =>
        _finished.Values.Concat(_latest.Values.Where(f => f.Calibrated && double.IsFinite(f.FinalLoss)).Select(f => f.FinalLoss))
            .Cast<double?>().DefaultIfEmpty(null).Min();

    /// <summary>
    /// The runs to stop now, from the latest reports: each run still going whose calibrated band's lower edge lies above
    /// <see cref="Best"/> plus <see cref="Margin"/>. They are recorded as stopped (with the reason in <see cref="Stopped"/>).
    /// </summary>
    public IReadOnlyList<TKey> Check()
    {
        if (Best is not double best) return [];
        var stop = _latest.Where(p => p.Value.Calibrated && p.Value.Lower > best + Margin).Select(p => p.Key).ToList();
        foreach (var run in stop)
        {
            var forecast = _latest[run];
            _stopped[run] = FormattableString.Invariant(
                $"at step {forecast.Step} its forecast {forecast.FinalLoss:F4} [{forecast.Lower:F4}, {forecast.Upper:F4}] lay above the sweep's best {best:F4} plus the margin {Margin:G3}");
            _latest.Remove(run);
        }
        return stop;
    }
}
