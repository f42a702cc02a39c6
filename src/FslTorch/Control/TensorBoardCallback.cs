using FslTorch.Schedules;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace FslTorch.Control;

/// <summary>
/// Writes a monitored run to TensorBoard through TorchSharp's <c>SummaryWriter</c>: the loss, the smoothed loss
/// and the LR every <see cref="Every"/> steps (<c>train/loss</c>, <c>train/loss_smoothed</c>, <c>train/lr</c>), the
/// evaluation loss (<c>eval/loss</c>), each new forecast of the final loss with its band
/// (<c>forecast/final_loss</c>, <c>forecast/lower</c>, <c>forecast/upper</c>, and <c>forecast/calibrated</c> as 0 or
/// 1), and the WSD decay start whenever it is set or moves (<c>schedule/decay_start</c>). Call it after the monitor
/// (e.g. <c>new CallbackList(monitor, tensorBoard)</c>) and view the folder with <c>tensorboard --logdir</c>.
/// A writer that fails (a full disk) is logged once and then left alone: it never stops the run.
/// </summary>
public sealed class TensorBoardCallback : ITrainingCallback
{
    private readonly TorchSharp.Modules.SummaryWriter _writer;
    private readonly TrainingMonitor _monitor;
    private readonly ILogger _logger;
    private Forecast? _written;
    private long _decayStart = -1;
    private bool _failed;

    /// <param name="logDirectory">The folder of the event files (created when missing).</param>
    /// <param name="monitor">The monitor whose forecasts and schedule are written.</param>
    /// <param name="every">Write the per-step scalars every this many steps (&gt;= 1).</param>
    /// <param name="logger">Where a failing writer is reported.</param>
    public TensorBoardCallback(string logDirectory, TrainingMonitor monitor, int every = 10, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(logDirectory);
        _monitor = monitor ?? throw new ArgumentNullException(nameof(monitor));
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "every must be >= 1.");
        Every = every;
        _logger = SafeLogger.Wrap(logger);
        _writer = torch.utils.tensorboard.SummaryWriter(logDirectory);
    }

    /// <summary>Steps between writes of the per-step scalars.</summary>
    public int Every { get; }

    /// <summary>The folder of the event files.</summary>
    public string LogDirectory => _writer.LogDir;

    /// <inheritdoc />
    public TrainingSignal OnStepEnd(long step, double learningRate, double loss)
    {
        Write(step, () =>
        {
            if (step % Every == 0)
            {
                Scalar("train/loss", loss, step);
                Scalar("train/loss_smoothed", _monitor.Tracker.Smoothed, step);
                Scalar("train/lr", learningRate, step);
            }
            var forecast = _monitor.LatestForecast;
            if (forecast != null && !ReferenceEquals(forecast, _written))
            {
                Scalar("forecast/final_loss", forecast.FinalLoss, step);
                Scalar("forecast/lower", forecast.Lower, step);
                Scalar("forecast/upper", forecast.Upper, step);
                Scalar("forecast/calibrated", forecast.Calibrated ? 1 : 0, step);
                _written = forecast;
            }
            if (_monitor.Schedule is WsdSchedule wsd && wsd.DecayStartStep != _decayStart)
            {
                Scalar("schedule/decay_start", wsd.DecayStartStep, step);
                _decayStart = wsd.DecayStartStep;
            }
        });
        return TrainingSignal.None;
    }

    /// <inheritdoc />
    public TrainingSignal OnEvaluationEnd(long step, double loss)
    {
        Write(step, () => Scalar("eval/loss", loss, step));
        return TrainingSignal.None;
    }

    /// <inheritdoc />
    public void OnRunEnd(long step)
    {
    }

    private void Scalar(string tag, double value, long step)
    {
        if (double.IsFinite(value)) _writer.add_scalar(tag, (float)value, (int)Math.Min(step, int.MaxValue), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    private void Write(long step, Action write)
    {
        if (_failed) return;
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _failed = true;
            Log.TensorBoardFailed(_logger, e, step, _writer.LogDir);
        }
    }
}
