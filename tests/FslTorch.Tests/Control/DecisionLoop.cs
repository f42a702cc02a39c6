using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;

namespace FslTorch.Tests.Control;

/// <summary>
/// What a training loop does with a <see cref="WsdDecayController"/> (as <see cref="TrainingMonitor"/> does): evaluate a
/// decision for the schedule in force, apply its decay start, commit it. A failed prediction changes nothing.
/// </summary>
internal sealed class DecisionLoop(WsdSchedule plan, DecayControllerOptions? options = null)
{
    public WsdDecayController Controller { get; } = new(plan, options);
    public WsdSchedule Schedule { get; private set; } = plan;
    public IReadOnlyList<DecayDecision> Decisions => Controller.Decisions;
    public DecayControllerOptions Options => Controller.Options;
    public long EarliestStart => Controller.EarliestStart;
    public long LatestStart => Controller.LatestStart;

    public DecayDecision? Decide(long nextStep, FitResult fit, long nextDecisionStep, Func<Hindcast?>? hindcast = null, bool hasDecayEvidence = true)
    {
        if (Controller.HasStarted(nextStep, Schedule) || !fit.Succeeded) return null;
        DecayDecision decision;
        try
        {
            decision = Controller.Evaluate(nextStep, Schedule, fit, nextDecisionStep, hindcast, hasDecayEvidence);
        }
        catch (ArgumentException)
        {
            return null;
        }
        Schedule = Schedule.WithDecayStartFrom(decision.DecayStartStep, nextStep);
        Controller.Commit(decision);
        return decision;
    }
}
