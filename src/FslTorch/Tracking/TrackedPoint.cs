namespace FslTorch.Tracking;

/// <summary>One point of a tracked curve: the mean of the losses (and LRs) recorded in one bin of steps.</summary>
/// <param name="Step">The mean step of the bin, rounded.</param>
/// <param name="LearningRate">The mean LR of the bin.</param>
/// <param name="Loss">The mean loss of the bin.</param>
/// <param name="Count">How many losses the bin holds.</param>
public readonly record struct TrackedPoint(long Step, double LearningRate, double Loss, int Count);
