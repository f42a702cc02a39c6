using System.Globalization;

namespace FslTorch.Tracking;

/// <summary>
/// Online tracking of a training loss, called once per step from the training loop. It keeps a smoothed
/// value (exponential moving average), a robust reference (the median of the last few losses), counts and
/// leaves out non-finite losses and spikes (never an exception for a bad loss), and decimates the curve into
/// at most <see cref="LossTrackerOptions.MaxPoints"/> bins of equal width, so memory and fit cost stay bounded.
/// Recording a step does no allocation once the window is full. Not thread-safe: use it from one thread and
/// hand <see cref="Points"/> (a copy) to other threads.
/// </summary>
public sealed class LossTracker
{
    private readonly LossTrackerOptions _options;
    private readonly double _emaDecay;
    private readonly double[] _window;
    private readonly double[] _sorted, _deviations;
    private int _windowCount, _windowNext;
    private readonly List<Bin> _bins = [];
    private readonly List<(long Step, double Loss)> _evaluations = [];
    private long _binWidth = 1;

    private struct Bin
    {
        public long Index;
        public double StepSum, LearningRateSum, LossSum;
        public int Count;
    }

    /// <summary>A tracker with the given (or default) options.</summary>
    public LossTracker(LossTrackerOptions? options = null)
    {
        _options = options ?? new LossTrackerOptions();
        _options.Validate();
        _emaDecay = EmaDecay(_options.EmaHalfLifeSteps);
        _window = new double[_options.MedianWindow];
        _sorted = new double[_options.MedianWindow];
        _deviations = new double[_options.MedianWindow];
    }

    /// <summary>The options.</summary>
    public LossTrackerOptions Options => _options;
    /// <summary>The exponential moving average of the accepted losses (NaN before any).</summary>
    public double Smoothed { get; private set; } = double.NaN;
    /// <summary>
    /// The median of the last <see cref="LossTrackerOptions.MedianWindow"/> finite losses, spikes included (NaN before any).
    /// </summary>
    public double Median { get; private set; } = double.NaN;
    /// <summary>
    /// The robust spread of the same losses, 1.4826 × their median absolute deviation from <see cref="Median"/> (a standard
    /// deviation for normal noise; NaN before any loss).
    /// </summary>
    public double Spread { get; private set; } = double.NaN;
    /// <summary>The last step recorded (−1 before any).</summary>
    public long LastStep { get; private set; } = -1;
    /// <summary>Accepted losses.</summary>
    public long Recorded { get; private set; }
    /// <summary>NaN or infinite losses, left out.</summary>
    public long NonFiniteCount { get; private set; }
    /// <summary>Spikes, left out.</summary>
    public long SpikeCount { get; private set; }
    /// <summary>The current bin width in steps.</summary>
    public long BinWidth => _binWidth;

    /// <summary>The decimated curve: one point per bin, in step order (a copy).</summary>
    public IReadOnlyList<TrackedPoint> Points =>
        _bins.Select(b => new TrackedPoint((long)Math.Round(b.StepSum / b.Count), b.LearningRateSum / b.Count, b.LossSum / b.Count, b.Count)).ToList();

    /// <summary>Evaluation losses recorded with <see cref="RecordEvaluation"/> (a copy).</summary>
    public IReadOnlyList<(long Step, double Loss)> Evaluations => _evaluations.ToList();

    /// <summary>What happened to a recorded loss.</summary>
    public enum Outcome
    {
        /// <summary>Accepted into the curve.</summary>
        Accepted,
        /// <summary>NaN or infinite: counted and left out.</summary>
        NonFinite,
        /// <summary>Far above the recent median: counted and left out.</summary>
        Spike,
        /// <summary>A step not after the last one: ignored.</summary>
        OutOfOrder,
    }

    /// <summary>Records the training loss of <paramref name="step"/>, taken at learning rate <paramref name="learningRate"/>.</summary>
    public Outcome Record(long step, double learningRate, double loss)
    {
        if (step <= LastStep) return Outcome.OutOfOrder;
        LastStep = step;
        if (!double.IsFinite(loss) || !double.IsFinite(learningRate))
        {
            NonFiniteCount++;
            return Outcome.NonFinite;
        }
        bool spike = _windowCount == _window.Length
                     && loss - Median > Math.Max(_options.SpikeThreshold * Median, _options.SpikeDeviations * Spread);
        // The window takes every finite loss, spikes too: a reference made of accepted losses alone ratchets down on a run
        // whose losses scatter widely (each left-out high loss lowers the next median, which leaves out more), and never
        // follows a loss that moved up for good.
        _window[_windowNext] = loss;
        _windowNext = (_windowNext + 1) % _window.Length;
        _windowCount = Math.Min(_windowCount + 1, _window.Length);
        (Median, Spread) = WindowMedianAndSpread();
        if (spike)
        {
            SpikeCount++;
            return Outcome.Spike;
        }
        Recorded++;
        Smoothed = Smooth(Smoothed, loss, _emaDecay);
        AddToBin(step, learningRate, loss);
        return Outcome.Accepted;
    }

    /// <summary>
    /// How far above the last of <paramref name="losses"/> (the losses of consecutive steps, oldest first) the
    /// exponential moving average with <paramref name="halfLifeSteps"/> stands at that last step, started at the first
    /// loss as <see cref="Smoothed"/> is: the lag of a smoothed loss behind the curve, positive while it falls. A loss
    /// falling by g per step is lagged by about 1.44·halfLife·g (half-life 20 steps: about 29 steps' fall). Pass the
    /// predicted losses of the last few half-lives (ten leave out a thousandth of the average's weight) to read a
    /// forecast as a smoothed loss will show it (<see cref="Control.Forecast.SmoothingLag"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No losses, a non-finite one, or a half-life that is not positive.</exception>
    public static double SmoothingLag(ReadOnlySpan<double> losses, double halfLifeSteps)
    {
        if (losses.IsEmpty) throw new ArgumentException("At least one loss is needed.", nameof(losses));
        if (!(halfLifeSteps > 0) || !double.IsFinite(halfLifeSteps)) throw new ArgumentOutOfRangeException(nameof(halfLifeSteps), halfLifeSteps, "The half-life must be a finite number > 0.");
        double decay = EmaDecay(halfLifeSteps), smoothed = double.NaN;
        foreach (double loss in losses)
        {
            if (!double.IsFinite(loss)) throw new ArgumentException("Every loss must be finite.", nameof(losses));
            smoothed = Smooth(smoothed, loss, decay);
        }
        return smoothed - losses[^1];
    }

    // The moving average's weight on its value so far, per step, for a half-life in steps.
    private static double EmaDecay(double halfLifeSteps) => Math.Pow(0.5, 1 / halfLifeSteps);

    // The moving average after one more loss (the loss itself when there was none before: NaN).
    private static double Smooth(double smoothed, double loss, double decay) =>
        double.IsNaN(smoothed) ? loss : decay * smoothed + (1 - decay) * loss;

    /// <summary>Records an evaluation (held-out) loss at any step; non-finite values are counted and left out.</summary>
    public void RecordEvaluation(long step, double loss)
    {
        if (!double.IsFinite(loss))
        {
            NonFiniteCount++;
            return;
        }
        _evaluations.Add((step, loss));
    }

    /// <summary>Writes the decimated curve as CSV with the header <c>step,lr,loss</c>.</summary>
    public void WriteCsv(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteLine("step,lr,loss");
        foreach (var p in Points) writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{p.Step},{p.LearningRate:R},{p.Loss:R}"));
    }

    /// <summary>Writes the decimated curve as JSON Lines: one <c>{"step":…,"lr":…,"loss":…,"count":…}</c> per point.</summary>
    public void WriteJsonLines(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var p in Points)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"step\":{p.Step},\"lr\":{p.LearningRate:R},\"loss\":{p.Loss:R},\"count\":{p.Count}}}"));
        }
    }

    /// <summary>The state to checkpoint.</summary>
    public LossTrackerState GetState() => new()
    {
        BinWidth = _binWidth,
        Bins = _bins.Select(b => new[] { b.Index, b.StepSum, b.LearningRateSum, b.LossSum, b.Count }).ToList(),
        Window = Enumerable.Range(0, _windowCount).Select(i => _window[(_windowNext - _windowCount + i + _window.Length) % _window.Length]).ToList(),
        Ema = Smoothed,
        LastStep = LastStep,
        Recorded = Recorded,
        NonFinite = NonFiniteCount,
        Spikes = SpikeCount,
        Evaluations = _evaluations.Select(e => new[] { e.Step, e.Loss }).ToList(),
    };

    /// <summary>A tracker that continues exactly where <paramref name="state"/> was taken.</summary>
    public static LossTracker FromState(LossTrackerState state, LossTrackerOptions? options = null)
    {
        var tracker = new LossTracker(options);
        tracker.Restore(state);
        return tracker;
    }

    /// <summary>Replaces this tracker's contents with <paramref name="state"/> (same options).</summary>
    public void Restore(LossTrackerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _bins.Clear();
        _evaluations.Clear();
        _windowCount = 0;
        _windowNext = 0;
        if (state.Window.Count > _window.Length) throw new ArgumentException("The state's median window is longer than the options allow.", nameof(state));
        _binWidth = Math.Max(1, state.BinWidth);
        foreach (var b in state.Bins)
        {
            _bins.Add(new Bin { Index = (long)b[0], StepSum = b[1], LearningRateSum = b[2], LossSum = b[3], Count = (int)b[4] });
        }
        foreach (double loss in state.Window)
        {
            _window[_windowNext] = loss;
            _windowNext = (_windowNext + 1) % _window.Length;
            _windowCount++;
        }
        (Median, Spread) = _windowCount > 0 ? WindowMedianAndSpread() : (double.NaN, double.NaN);
        Smoothed = state.Ema;
        LastStep = state.LastStep;
        Recorded = state.Recorded;
        NonFiniteCount = state.NonFinite;
        SpikeCount = state.Spikes;
        _evaluations.AddRange(state.Evaluations.Select(e => ((long)e[0], e[1])));
    }

    private (double Median, double Spread) WindowMedianAndSpread()
    {
        Array.Copy(_window, _sorted, _windowCount);
        double median = SortedMedian(_sorted, _windowCount);
        for (int i = 0; i < _windowCount; i++) _deviations[i] = Math.Abs(_window[i] - median);
        return (median, 1.4826 * SortedMedian(_deviations, _windowCount));
    }

    // The median of the first `count` values of `values`, which it sorts in place.
    private static double SortedMedian(double[] values, int count)
    {
        Array.Sort(values, 0, count);
        return count % 2 == 1 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
    }

    private void AddToBin(long step, double learningRate, double loss)
    {
        long index = step / _binWidth;
        if (_bins.Count > 0 && _bins[^1].Index == index)
        {
            var last = _bins[^1];
            last.StepSum += step;
            last.LearningRateSum += learningRate;
            last.LossSum += loss;
            last.Count++;
            _bins[^1] = last;
            return;
        }
        _bins.Add(new Bin { Index = index, StepSum = step, LearningRateSum = learningRate, LossSum = loss, Count = 1 });
        if (_bins.Count > _options.MaxPoints) Coarsen();
    }

    // Doubles the bin width, merging bins whose steps now fall into the same wider bin.
    private void Coarsen()
    {
        _binWidth *= 2;
        int write = 0;
        for (int read = 0; read < _bins.Count; read++)
        {
            var bin = _bins[read];
            bin.Index /= 2;
            if (write > 0 && _bins[write - 1].Index == bin.Index)
            {
                var merged = _bins[write - 1];
                merged.StepSum += bin.StepSum;
                merged.LearningRateSum += bin.LearningRateSum;
                merged.LossSum += bin.LossSum;
                merged.Count += bin.Count;
                _bins[write - 1] = merged;
            }
            else
            {
                _bins[write++] = bin;
            }
        }
        _bins.RemoveRange(write, _bins.Count - write);
    }
}
