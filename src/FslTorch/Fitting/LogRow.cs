namespace FslTorch.Fitting;

/// <summary>
/// One logged step of a training run, from any log format: the step, its LR and loss when logged, and where it
/// came from (for messages, e.g. "line 12" or "event 37").
/// </summary>
/// <param name="Step">The zero-based optimizer step.</param>
/// <param name="LearningRate">The LR of the step, when the log has it.</param>
/// <param name="Loss">The training loss of the step, when the log has it (NaN or infinite: left out and reported).</param>
/// <param name="Where">Where in the log the row is.</param>
public sealed record LogRow(long Step, double? LearningRate, double? Loss, string Where);
