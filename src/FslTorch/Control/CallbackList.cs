namespace FslTorch.Control;

/// <summary>Several callbacks called in order; their signals are combined.</summary>
public sealed class CallbackList : ITrainingCallback
{
    private readonly ITrainingCallback[] _callbacks;

    /// <summary>The callbacks, called in this order.</summary>
    public CallbackList(params ITrainingCallback[] callbacks)
    {
        ArgumentNullException.ThrowIfNull(callbacks);
        if (callbacks.Any(c => c is null)) throw new ArgumentException("callbacks must not contain null.", nameof(callbacks));
        _callbacks = callbacks.ToArray();
    }

    /// <inheritdoc />
    public TrainingSignal OnStepEnd(long step, double learningRate, double loss)
    {
        var signal = TrainingSignal.None;
        foreach (var callback in _callbacks) signal |= callback.OnStepEnd(step, learningRate, loss);
        return signal;
    }

    /// <inheritdoc />
    public TrainingSignal OnEvaluationEnd(long step, double loss)
    {
        var signal = TrainingSignal.None;
        foreach (var callback in _callbacks) signal |= callback.OnEvaluationEnd(step, loss);
        return signal;
    }

    /// <inheritdoc />
    public void OnRunEnd(long step)
    {
        foreach (var callback in _callbacks) callback.OnRunEnd(step);
    }
}
