namespace FslTorch.Control;

/// <summary>
/// A hook called from the user's training loop, in the spirit of Lightning's and Hugging Face's callbacks.
/// Implementations must not throw for bad losses: they record them and carry on.
/// </summary>
public interface ITrainingCallback
{
    /// <summary>After step <paramref name="step"/> was taken with rate <paramref name="learningRate"/> and gave <paramref name="loss"/>.</summary>
    TrainingSignal OnStepEnd(long step, double learningRate, double loss);

    /// <summary>After an evaluation at <paramref name="step"/>.</summary>
    TrainingSignal OnEvaluationEnd(long step, double loss);

    /// <summary>When the run ends (at its budget or stopped) after step <paramref name="step"/>.</summary>
    void OnRunEnd(long step);
}
