using MathNet.Numerics.Statistics;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Microsoft.Extensions.Logging;

namespace FslTorch.Control;

/// <summary>
/// Decides when a WSD schedule with a fixed budget N starts its decay (docs/fsl-spec.md §5, §7). After each
/// refit it predicts the final loss for a grid of feasible decay starts and starts the decay at the first
/// step where no later start is predicted to beat "start now" by more than the margin (plus the gain's
/// uncertainty). It acts only on forecasts it trusts — stable over the last decisions, certain enough, and
/// passing a <see cref="Hindcast"/> — and otherwise leaves the planned start where it is, so a run the law
/// cannot forecast keeps its plan. Rails: a minimum stable phase, minimum and maximum decay lengths, never a
/// start in the past, and nothing moves once the decay began.
/// <para>
/// Decisions flow one way: <see cref="Evaluate"/> turns a fit and the schedule in force into a
/// <see cref="DecayDecision"/> (pure: nothing changes), the caller applies it (an <see cref="FslScheduler"/>'s
/// <see cref="FslScheduler.MoveDecayStart"/>; <see cref="TrainingMonitor"/> does both), and <see cref="Commit"/>
/// records and logs it once applied. The controller holds no schedule.
/// </para>
/// </summary>
public sealed class WsdDecayController
{
    private readonly ILogger _logger;
    private readonly List<DecayDecision> _decisions = [];

    /// <param name="plan">The schedule as planned: its budget, warmup and shape set the rails.</param>
    /// <param name="options">Rails and margin; the library defaults when null.</param>
    /// <param name="logger">Where committed decisions are logged.</param>
    public WsdDecayController(WsdSchedule plan, DecayControllerOptions? options = null, ILogger? logger = null)
    {
        Plan = plan ?? throw new ArgumentNullException(nameof(plan));
        Options = options ?? new DecayControllerOptions();
        Options.Validate();
        _logger = SafeLogger.Wrap(logger);
        long n = plan.TotalSteps;
        LatestStart = n - (long)Math.Floor(Options.MinDecayFraction * n);
        EarliestStart = Math.Max(Math.Max((long)Math.Ceiling(Options.MinStableFraction * n), n - (long)Math.Floor(Options.MaxDecayFraction * n)),
            plan.WarmupSteps);
        if (LatestStart > n - 1) LatestStart = n - 1;
        if (EarliestStart > LatestStart) throw new ArgumentException($"The rails leave no feasible decay start in [{EarliestStart}, {LatestStart}] for N = {n}.", nameof(options));
    }

    /// <summary>The schedule as planned.</summary>
    public WsdSchedule Plan { get; }
    /// <summary>The options.</summary>
    public DecayControllerOptions Options { get; }
    /// <summary>The earliest start the rails allow.</summary>
    public long EarliestStart { get; }
    /// <summary>The latest start the rails allow.</summary>
    public long LatestStart { get; }
    /// <summary>Every committed decision so far, oldest first.</summary>
    public IReadOnlyList<DecayDecision> Decisions => _decisions;

    /// <summary>Whether the decay has begun once <paramref name="nextStep"/> is the next step to take under <paramref name="current"/>.</summary>
    public bool HasStarted(long nextStep, WsdSchedule current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return current.HasDecayBegun(nextStep) || _decisions.Any(d => d.StartNow);
    }

    /// <summary>Records a decision the caller has applied (the schedule in force now decays from its start) and logs it.</summary>
    public void Commit(DecayDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        _decisions.Add(decision);
        Log.DecayDecision(_logger, decision.Step, decision.StartNow ? "start now" : "wait", decision.DecayStartStep, decision.PredictedFinalLoss,
            decision.GainOfWaiting, decision.GainUncertainty, decision.Reason);
    }

    /// <summary>The final loss <paramref name="fit"/> predicts for <paramref name="current"/> with its decay starting at <paramref name="decayStartStep"/>.</summary>
    public double PredictFinalLoss(FitResult fit, WsdSchedule current, long decayStartStep)
    {
        ArgumentNullException.ThrowIfNull(fit);
        ArgumentNullException.ThrowIfNull(current);
        return FinalLoss(fit, null, new WsdTrajectoryBuffer(current, fit.LearningRateScale), decayStartStep);
    }

    /// <summary>
    /// A decision to start the decay at <paramref name="nextStep"/> for a reason outside the controller's own rule
    /// (e.g. a target within reach), to apply and <see cref="Commit"/>; null when the decay already began or the
    /// step is past the rails.
    /// </summary>
    public DecayDecision? StartNow(long nextStep, WsdSchedule current, double predictedFinalLoss, string reason)
    {
        if (HasStarted(nextStep, current) || nextStep > LatestStart) return null;
        return new DecayDecision(nextStep, true, nextStep, predictedFinalLoss, double.NaN, 0, reason, []);
    }

    /// <summary>Restores the decisions of a checkpoint (the schedule itself is restored with the scheduler).</summary>
    public void LoadDecisions(IEnumerable<DecayDecision> decisions)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        _decisions.Clear();
        _decisions.AddRange(decisions);
    }

    /// <summary>
    /// The decision at <paramref name="nextStep"/> (the first step not yet taken) from a fit, for the schedule in force
    /// <paramref name="current"/>; pure (nothing is recorded or moved: apply it, then <see cref="Commit"/> it).
    /// A trusted forecast that says "wait" moves the planned start to its predicted best, kept at or after
    /// <paramref name="nextDecisionStep"/> so that it starts by a decision; a forecast not yet trusted (too early,
    /// unstable, too uncertain, failed hindcast) keeps the plan, so the decay then starts where it was planned.
    /// <paramref name="hindcast"/>, when given, is asked for a <see cref="Control.Hindcast"/> before the margin rule
    /// starts the decay (see <see cref="DecayControllerOptions.HindcastTolerance"/>). Without
    /// <paramref name="hasDecayEvidence"/> (and <see cref="DecayControllerOptions.RequireDecayEvidence"/> on) the plan stays.
    /// With <paramref name="seenDecayShape"/> (<see cref="Forecast.SeenDecayShape"/>: the run's evidence is a decay shorter
    /// than the candidates') each candidate's final loss is weighed as the forecast weighs the planned decay's: the fit's
    /// prediction plus <see cref="Forecast.UnseenGainShare"/> of the gain it predicts beyond what a decay of the seen shape,
    /// started at the candidate's start, buys by its end.
    /// </summary>
    /// <exception cref="ArgumentException">The fit did not succeed, or its law cannot evaluate the candidates.</exception>
    public DecayDecision Evaluate(long nextStep, WsdSchedule current, FitResult fit, long nextDecisionStep, Func<Hindcast?>? hindcast = null, bool hasDecayEvidence = true,
        IReadOnlyList<double>? seenDecayShape = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(fit);
        if (!fit.Succeeded) throw new ArgumentException($"The fit did not succeed ({fit.ExitReason}).", nameof(fit));
        nextDecisionStep = Math.Max(nextDecisionStep, nextStep + 1);
        var parameters = fit.Parameters.ToArray();
        // Every candidate trajectory (also those of the uncertainty draws) lives in one buffer of the budget's length.
        var trajectories = new WsdTrajectoryBuffer(current, fit.LearningRateScale);
        var unseen = seenDecayShape is { Count: > 0 } ? new UnseenDecayGain(fit, current, seenDecayShape) : null;
        // The final losses of decays from `starts`, weighed for the part of each decay the run has not seen.
        double[] FinalLosses(double[] theta, IReadOnlyList<long> starts)
        {
            var losses = starts.Select(s => WsdDecayController.FinalLoss(fit, theta, trajectories, s)).ToArray();
            return unseen == null ? losses : unseen.Weigh(theta, starts, losses);
        }

        if (nextStep >= LatestStart)
        {
            double forced = FinalLosses(parameters, [nextStep])[0];
            return new DecayDecision(nextStep, true, nextStep, forced, 0, 0, $"the latest start the rails allow ({LatestStart}) has come",
                [new DecayCandidate(nextStep, forced)]);
        }
        long first = Math.Max(nextStep, EarliestStart);
        var starts = Enumerable.Range(0, Options.Candidates)
            .Select(i => first + (long)Math.Round((double)(LatestStart - first) * i / (Options.Candidates - 1)))
            .Distinct().ToList();
        var candidates = starts.Zip(FinalLosses(parameters, starts), (s, loss) => new DecayCandidate(s, loss)).ToList();
        var best = candidates.MinBy(c => c.PredictedFinalLoss)!;
        long Plan(long start) => Math.Min(Math.Max(start, nextDecisionStep), LatestStart);

        // A forecast that is not yet trusted never moves the plan: the decay start stays where it was planned (by the
        // user, or by the last trusted forecast), and starts there if no trusted forecast comes first.
        long kept = current.DecayStartStep;
        if (nextStep < EarliestStart)
        {
            return new DecayDecision(nextStep, false, kept, best.PredictedFinalLoss, double.NaN, 0,
                $"the stable phase lasts at least until step {EarliestStart}", candidates) { HasDecayEvidence = hasDecayEvidence };
        }
        var now = candidates[0];
        var later = candidates.Skip(1).MinBy(c => c.PredictedFinalLoss)!;
        double gain = now.PredictedFinalLoss - later.PredictedFinalLoss;
        // The gain's uncertainty (two predictions per parameter draw) is drawn
        // only once the decision can depend on it (32 of a decision's 80 predictions at the defaults): until then a decision
        // reports it as 0, unknown.
        double uncertainty = 0;
        // The hindcast is made at every decision from the earliest start on. Once one has failed, trust needs a
        // track record: the last HindcastPasses checks in a row must pass (when the caller can make checks at all).
        bool checking = hindcast != null && double.IsFinite(Options.HindcastTolerance);
        var check = checking ? hindcast!() : null;
        int passes = 0;
        if (check != null && Trusts(check))
        {
            passes = 1 + _decisions.AsEnumerable().Reverse().TakeWhile(d => d.Hindcast != null && Trusts(d.Hindcast)).Count();
        }
        bool failedBefore = _decisions.Any(d => d.Hindcast != null && !d.Hindcast.Passes(Options.HindcastTolerance));
        int needed = failedBefore ? Options.HindcastPasses : 1;
        DecayDecision Wait(string reason) => new(nextStep, false, kept, later.PredictedFinalLoss, gain, uncertainty, reason, candidates)
        {
            Hindcast = check,
            HasDecayEvidence = hasDecayEvidence,
        };

        if (Options.RequireDecayEvidence && !hasDecayEvidence)
        {
            return new DecayDecision(nextStep, false, kept, later.PredictedFinalLoss, gain, uncertainty,
                "the run has no evidence of its decay response yet (no LR decrease observed, no measured prior): the plan stays", candidates)
            { HasDecayEvidence = false };
        }
        // Stability counts only forecasts made with decay evidence (with RequireDecayEvidence): one made before the run
        // had any guessed the cooldown's response, and its agreement with a later one says nothing about the later one.
        // It compares predictions for the same schedules: this fit's final loss for the decay start that each of the last
        // decisions found best against what that decision predicted for it. (Their best losses are no such measure: once
        // starting now is predicted best, each is the loss of a decay from that decision's own step, which rises from one
        // decision to the next by what the later start costs even where the fits agree.)
        var recent = _decisions.Where(d => (d.HasDecayEvidence || !Options.RequireDecayEvidence) && d.Candidates.Count > 0)
            .Select(d => (Decision: d, Best: d.Candidates.MinBy(c => c.PredictedFinalLoss)!)).Where(e => double.IsFinite(e.Best.PredictedFinalLoss))
            .TakeLast(Options.StableForecasts - 1).ToList();
        var earlier = recent.Select(e => e.Best).ToList();
        if (earlier.Count + 1 < Options.StableForecasts)
        {
            return Wait($"the forecasts are not yet stable (only {earlier.Count + 1} of the {Options.StableForecasts} needed{(Options.RequireDecayEvidence ? " with decay evidence" : "")})");
        }
        var again = FinalLosses(parameters, earlier.Select(c => c.DecayStartStep).ToList());
        double moved = earlier.Select((c, i) => Math.Abs(again[i] - c.PredictedFinalLoss)).DefaultIfEmpty(0).Max();
        // Where the optimum has passed, fits that still move in level all say the same thing: start now. With
        // AgreeingStartsAreStable that agreement counts as stability (each decision found a decay from its own step best).
        bool agree = Options.AgreeingStartsAreStable && best.DecayStartStep == nextStep && recent.All(e => e.Best.DecayStartStep == e.Decision.Step);
        if (!(moved <= Options.ForecastTolerance) && !agree)
        {
            return Wait($"the forecasts are not yet stable (this fit's final loss for the best start of one of the last {earlier.Count} decisions lies {moved:F4} nats from that decision's)");
        }
        double GainOfWaiting(double[] theta)
        {
            var pair = FinalLosses(theta, [now.DecayStartStep, later.DecayStartStep]);
            return pair[0] - pair[1];
        }
        if (GainUncertainty(fit, GainOfWaiting) is not { } measured)
        {
            // A fit without a usable covariance (e.g. at the edge of the law's domain) says nothing about how sure it is;
            // taking its uncertainty as 0 would act on it as if it were certain.
            return Wait($"the forecast's uncertainty cannot be estimated (no parameter draws of this fit can be evaluated; gain of waiting {gain:F4} nats)");
        }
        uncertainty = measured;
        double threshold = Options.Margin + Options.UncertaintyWeight * uncertainty;
        if (uncertainty > Options.MaxGainUncertainty)
        {
            return Wait($"the forecast is too uncertain to decide (gain of waiting {gain:F4} ± {uncertainty:F4} nats)");
        }
        bool startNow = gain <= threshold;
        string wanted = startNow ? "starting now is predicted best" : $"starting at {later.DecayStartStep} is predicted to end {gain:F4} nats lower";
        if (checking && passes < needed)
        {
            return Wait(check == null
                ? $"{wanted}, but the law's extrapolation cannot be checked on this run yet"
                : !check.Passes(Options.HindcastTolerance)
                    ? $"{wanted}, but the law does not extrapolate this run: a fit through step {check.FittedThrough} predicted {check.Predicted:F4} at step {check.CheckedThrough}, observed {check.Observed:F4} (drop {check.ObservedDrop:F4})"
                : !Informative(check)
                    ? $"{wanted}, but the law's extrapolation cannot be checked on this run's noise: the loss fell by {check.ObservedDrop:F4} over the checked stretch, within twice its standard error ({2 * check.StandardError:F4})"
                    : $"{wanted}, but only the last {passes} hindcasts passed ({needed} in a row are needed after a failed one)");
        }
        string checkedText = check == null ? "" : $" (hindcast error {check.Error:+0.0000;-0.0000;+0.0000} on a drop of {check.ObservedDrop:F4})";
        return startNow
            ? new DecayDecision(nextStep, true, nextStep, now.PredictedFinalLoss, gain, uncertainty,
                $"no later start is predicted to beat starting now by more than {threshold:F4} nats{checkedText}", candidates)
            { Hindcast = check, HasDecayEvidence = hasDecayEvidence }
            : new DecayDecision(nextStep, false, Plan(later.DecayStartStep), later.PredictedFinalLoss, gain, uncertainty,
                $"{wanted}{checkedText}", candidates) { Hindcast = check, HasDecayEvidence = hasDecayEvidence };
    }

    // A hindcast the controller trusts: it passed, and it tested something, the loss having fallen between its reference
    // and its checked stretch by more than the noise (one whose drop is within the noise passes on any prediction near the
    // observed level). One that tested nothing is not a pass (the decision waits, and a run of passes starts again after
    // it), nor a failure (it does not ask for HindcastPasses passes in a row afterwards).
    private bool Trusts(Hindcast check) => check.Passes(Options.HindcastTolerance) && Informative(check);

    private static bool Informative(Hindcast check) => check.ObservedDrop > 2 * check.StandardError;

    /// <summary>
    /// The standard deviation of a function of the parameters over draws from the fit's covariance: 0 when the options
    /// turn it off, null when it cannot be estimated (no covariance, or fewer than two draws the law can evaluate).
    /// </summary>
    private double? GainUncertainty(FitResult fit, Func<double[], double> gain)
    {
        if (Options.UncertaintySamples < 2 || Options.UncertaintyWeight == 0) return 0;
        var values = new List<double>();
        foreach (var theta in fit.DrawParameters(Options.UncertaintySamples, Options.Seed))
        {
            try
            {
                double value = gain(theta);
                if (double.IsFinite(value)) values.Add(value);
            }
            catch (Exception e) when (e is ArgumentException or ArithmeticException)
            {
                // a draw outside the law's domain is skipped
            }
        }
        return values.Count < 2 ? null : values.StandardDeviation();
    }

    // What a candidate decay's final loss is weighed by when the run has seen a shorter decay (`shape`: its LRs as multiples
    // of the LR before it), as the forecaster weighs the planned one's (Forecast.UnseenCooldownGain): the fit's prediction
    // plus the share taken of the gain it predicts over holding the stable LR to the end beyond what a decay of the seen
    // shape, started where the candidate starts, buys by its own end. One pair of budget-length arrays serves every candidate.
    private sealed class UnseenDecayGain
    {
        private readonly FitResult _fit;
        private readonly IReadOnlyList<double> _shape;
        private readonly double _stable;
        private readonly SampledSchedule _held;
        private readonly double[] _probeRates;
        private readonly SampledSchedule _probe;

        public UnseenDecayGain(FitResult fit, WsdSchedule current, IReadOnlyList<double> shape)
        {
            _fit = fit;
            _shape = shape;
            long decay = Math.Max(current.DecayStartStep, 1);
            _stable = current.Evaluate(decay - 1) / fit.LearningRateScale;
            var held = new double[current.TotalSteps];
            for (long k = 0; k < held.Length; k++) held[k] = k < decay ? current.Evaluate(k) / fit.LearningRateScale : _stable;
            _held = new SampledSchedule(held, ownedByBuffer: true);
            _probeRates = (double[])held.Clone();
            _probe = new SampledSchedule(_probeRates, ownedByBuffer: true);
        }

        public double[] Weigh(double[] theta, IReadOnlyList<long> starts, double[] finalLosses)
        {
            int n = _probeRates.Length;
            var ends = starts.Select(s => (int)Math.Min(n, s + _shape.Count) - 1).ToArray();
            var steps = ends.Append(n - 1).Distinct().Order().ToArray();
            var held = _fit.PredictNormalised(_held, steps, theta);
            double At(int step) => held[Array.BinarySearch(steps, step)];
            var weighed = new double[starts.Count];
            for (int i = 0; i < starts.Count; i++)
            {
                int from = (int)starts[i];
                for (int k = from; k <= ends[i]; k++) _probeRates[k] = _shape[k - from] * _stable;
                _probe.RewriteFrom(from);
                double cooled = _fit.PredictNormalised(_probe, [ends[i]], theta)[0];
                for (int k = from; k <= ends[i]; k++) _probeRates[k] = _stable;
                _probe.RewriteFrom(from);
                double seen = Math.Max(0, At(ends[i]) - cooled);
                double beyond = Math.Max(0, At(n - 1) - finalLosses[i] - seen);
                weighed[i] = finalLosses[i] + Forecast.UnseenGainShare * beyond;
            }
            return weighed;
        }
    }

    // The loss at the last step N − 1 if the decay starts at `decayStartStep`, with the LR in the fit's unit.
    private static double FinalLoss(FitResult fit, double[]? parameters, WsdTrajectoryBuffer trajectories, long decayStartStep)
    {
        var schedule = trajectories.Fill(decayStartStep);
        return fit.PredictNormalised(schedule, [schedule.Count - 1], parameters)[0];
    }
}
