using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FslTorch.Control;

/// <summary>
/// A logger that never throws: an exception from the user's logger (a full disk, a broken sink) is swallowed and
/// counted, so that logging can never reach into the training loop or interrupt a decision half-applied.
/// </summary>
internal sealed class SafeLogger : ILogger
{
    private readonly ILogger _inner;
    private long _failures;

    private SafeLogger(ILogger inner) => _inner = inner;

    /// <summary>The logger wrapped once (a <see cref="SafeLogger"/> or null is returned as a safe logger as is).</summary>
    public static ILogger Wrap(ILogger? logger) => logger switch
    {
        null => NullLogger.Instance,
        SafeLogger or NullLogger => logger,
        _ => new SafeLogger(logger),
    };

    /// <summary>How many calls to the inner logger threw.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull
    {
        try
        {
            return _inner.BeginScope(state);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failures);
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return _inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failures);
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            _inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failures);
        }
    }
}
