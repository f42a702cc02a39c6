using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using FslTorch.Theory;

namespace FslTorch.Cli;

/// <summary>
/// The experiments of <c>fsl theory</c> on the SGD simulator (<see cref="SgdSimulation"/>): pure functions from a
/// task and a budget to tables, so that tests and the command share them.
/// </summary>
internal static class TheoryExperiments
{
    /// <summary>The schedules compared, all with the same peak and no warmup (η at step 0 is the peak).</summary>
    public static IReadOnlyList<(string Name, LearningRateSchedule Schedule)> Schedules(double peak, int steps) =>
    [
        ("constant", Schedule.Constant(peak)),
        ("cosine", Schedule.Cosine(peak, 0, steps)),
        ("exponential", Schedule.Exponential(peak, Math.Pow(0.01, 1.0 / steps))),
        ("wsd-0.2", Schedule.Wsd(peak, 0, WsdSchedule.DecayStartForFraction(steps, 0.2), steps)),
        ("8-1-1", Schedule.EightOneOne(peak, steps)),
    ];

    /// <summary>One row of <see cref="Constant"/>: the risk at a step for each LR.</summary>
    public sealed record ConstantCurves(IReadOnlyList<double> LearningRates, IReadOnlyList<int> Steps, IReadOnlyList<double[]> Risk)
    {
        /// <summary>The log-log slope of the risk against intrinsic time η·k over [kFrom, kTo], for each LR.</summary>
        public double[] Slopes(int from, int to) => LearningRates.Select((eta, i) =>
        {
            var points = Enumerable.Range(0, Steps.Count).Where(j => Steps[j] >= from && Steps[j] <= to)
                .Select(j => (X: Math.Log(eta * Steps[j]), Y: Math.Log(Risk[i][j]))).ToList();
            double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
            return points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
        }).ToArray();
    }

    /// <summary>The expected excess risk at constant LRs (each half the one before), at log-spaced steps up to <paramref name="steps"/>.</summary>
    public static ConstantCurves Constant(KernelRegressionTask task, double peak, int steps, int rates = 3)
    {
        var etas = Enumerable.Range(0, rates).Select(i => peak / Math.Pow(2, i)).ToArray();
        var at = LogSteps(steps, 120);
        var risk = etas.Select(eta =>
        {
            var curve = SgdSimulation.ExpectedRisk(task, Enumerable.Repeat(eta, steps).ToArray());
            return at.Select(k => curve[k]).ToArray();
        }).ToList();
        return new ConstantCurves(etas, at, risk);
    }

    /// <summary>A schedule's final expected excess risk.</summary>
    public sealed record ScheduleRisk(string Schedule, double FinalRisk);

    /// <summary>Every schedule of <see cref="Schedules"/> on one task, best first.</summary>
    public static IReadOnlyList<ScheduleRisk> Ranking(KernelRegressionTask task, double peak, int steps) =>
        Schedules(peak, steps).Select(s => new ScheduleRisk(s.Name, SgdSimulation.ExpectedRisk(task, s.Schedule.Sample(steps))[^1]))
            .OrderBy(r => r.FinalRisk).ToList();

    /// <summary>The direct FSL's prediction of one schedule's final excess risk, against the simulator's.</summary>
    /// <param name="Fitted">Whether the law was fitted to this schedule's run (an in-sample check) or predicts it.</param>
    public sealed record LawCheck(string Schedule, double TrueRisk, double PredictedRisk, bool Fitted = false)
    {
        /// <summary>(predicted − true) / true, on the excess risk.</summary>
        public double RelativeError => (PredictedRisk - TrueRisk) / TrueRisk;
    }

    /// <summary>The schedule the direct FSL is fitted to by default in <see cref="FslAgainstSimulation"/>, as in [P1].</summary>
    public const string DefaultFitSchedule = "8-1-1";

    /// <summary>
    /// Fits the direct FSL to the population loss (excess risk + σ²/2) of the runs of <paramref name="fitOn"/> (names of
    /// <see cref="Schedules"/>; the 8-1-1 schedule when null), at 200 log-spaced steps each, and predicts every
    /// schedule's final excess risk (those it was fitted to as well, marked <see cref="LawCheck.Fitted"/>): the law
    /// checked against its own theory. Null when the fit fails.
    /// </summary>
    /// <exception cref="ArgumentException">A name in <paramref name="fitOn"/> is not one of <see cref="Schedules"/>, or none is given.</exception>
    public static (FitResult Fit, IReadOnlyList<LawCheck> Checks)? FslAgainstSimulation(KernelRegressionTask task, double peak, int steps,
        IReadOnlyCollection<string>? fitOn = null)
    {
        double floor = 0.5 * task.NoiseVariance;
        var schedules = Schedules(peak, steps);
        fitOn ??= [DefaultFitSchedule];
        if (fitOn.Count == 0) throw new ArgumentException("Name at least one schedule to fit.", nameof(fitOn));
        foreach (string name in fitOn)
        {
            if (schedules.All(s => s.Name != name))
                throw new ArgumentException($"No schedule {name}: expected one of {string.Join(", ", schedules.Select(s => s.Name))}.", nameof(fitOn));
        }
        var at = LogSteps(steps - 1, 200);
        var runs = schedules.Select(s =>
        {
            var sampled = s.Schedule.Sample(steps);
            return (s.Name, Rates: sampled, Risk: SgdSimulation.ExpectedRisk(task, sampled));
        }).ToList();
        var curves = runs.Where(r => fitOn.Contains(r.Name))
            .Select(r => new ObservedCurve(r.Name, new SampledSchedule(r.Rates), at, at.Select(k => r.Risk[k] + floor).ToList())).ToList();
        var fit = LawFitter.Fit(LossCurveLaws.Create("fsl-direct"), curves);
        if (!fit.Succeeded) return null;
        var checks = runs.Select(r =>
        {
            double predicted;
            try
            {
                predicted = fit.Predict(r.Rates, [steps - 1])[0] - floor;
            }
            catch (ArgumentException)
            {
                predicted = double.NaN; // outside what the fitted law can evaluate
            }
            return new LawCheck(r.Name, r.Risk[steps - 1], predicted, fitOn.Contains(r.Name));
        }).ToList();
        return (fit, checks);
    }

    /// <summary>One controlled run of <see cref="Regret"/>: the decay start the monitor chose and what it cost.</summary>
    /// <param name="EvidenceStep">
    /// The first step at which the controller can move the decay on decay evidence: the end of the first probe (probe
    /// evidence) or the controller's earliest start (a prior), whichever is later.
    /// </param>
    /// <param name="ReachableRisk">The lowest exact final risk of the grid's starts at or after <paramref name="EvidenceStep"/>: the best a controller that acts on its evidence can do.</param>
    public sealed record RegretRun(int Seed, long ChosenStart, long BestStart, double ChosenRisk, double BestRisk, double FixedRisk, long PlannedStart,
        long EvidenceStep, double ReachableRisk)
    {
        /// <summary>Whether the decay started where it was planned (the controller never moved it).</summary>
        public bool KeptThePlan => ChosenStart == PlannedStart;
        /// <summary>The exact final risk of the chosen start minus the best start's.</summary>
        public double Regret => ChosenRisk - BestRisk;
        /// <summary>The fixed 20% cooldown's exact final risk minus the best start's (what control can gain at most).</summary>
        public double FixedGap => FixedRisk - BestRisk;
        /// <summary>The part of <see cref="FixedGap"/> that a start at or after <see cref="EvidenceStep"/> can gain.</summary>
        public double ReachableGap => FixedRisk - ReachableRisk;
    }

    /// <summary>Where <see cref="Regret"/>'s probe forks by default, as a fraction of the budget (TinyGpt's default).</summary>
    public const double DefaultProbeAt = 0.4;

    /// <summary>What the monitor of <see cref="Regret"/> sees of each step.</summary>
    public enum RegretObservation
    {
        /// <summary>The loss of the step's training batch at the current iterate (as a training loop logs it).</summary>
        Batch,
        /// <summary>
        /// The population loss of the current iterate, excess risk + σ²/2 (an evaluation on an unlimited held-out set):
        /// the run's own trajectory, observed without sampling noise.
        /// </summary>
        Population,
    }

    /// <summary>Where the decay controller of <see cref="Regret"/> gets its evidence of the decay response.</summary>
    public enum RegretEvidence
    {
        /// <summary>
        /// As TinyGpt's controlled runs by default: a cooldown probe forked at 40% of the budget, or at the fractions
        /// given (linear to 0 over 4% of it, on its own batches), fitted jointly with the run; no prior.
        /// </summary>
        Probe,
        /// <summary>
        /// As <c>fsl bench decay</c>: no probe; a prior of the decay response, the default law fitted to two sampled
        /// calibration runs of 30% of the budget (a 20% WSD and a cosine to 0, seeds −1 and −2).
        /// </summary>
        Prior,
    }

    /// <summary>
    /// The decay controller where the best decision is known exactly: for each seed, a sampled SGD run whose WSD decay
    /// start (linear to 0, planned at 20%) a <see cref="TrainingMonitor"/> with the library defaults moves as the batch
    /// losses arrive (refits every 2% of the budget), with the decay-response evidence of <paramref name="evidence"/>.
    /// The chosen start is scored by the exact expected final risk against the best start of a grid at every 1% of
    /// the budget (cooldowns of 2–90%). The monitor runs without a fit time limit, so that the result does not depend on
    /// the machine's load.
    /// </summary>
    /// <param name="threads">How many seeds run at once (each run is independent and deterministic: the result does not depend on it).</param>
    /// <param name="observation">What the monitor sees of each step (the run's and its probes').</param>
    /// <param name="probeAt">With probe evidence: the fractions of the budget at which a probe forks (null: 0.4 alone, as TinyGpt's default).</param>
    public static IReadOnlyList<RegretRun> Regret(KernelRegressionTask task, double peak, int steps, IReadOnlyList<int> seeds, int threads = 1,
        RegretEvidence evidence = RegretEvidence.Probe, IReadOnlyList<double>? probeAt = null, RegretObservation observation = RegretObservation.Batch)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be >= 1.");
        probeAt ??= [DefaultProbeAt];
        if (probeAt.Count == 0 || probeAt.Any(f => !(f > 0 && f < 1))) throw new ArgumentOutOfRangeException(nameof(probeAt), "every probe fraction must lie in (0, 1).");
        double Exact(long start) => SgdSimulation.ExpectedRisk(task, Schedule.Wsd(peak, 0, start, steps).Sample(steps))[^1];
        var grid = Enumerable.Range(2, 89).Select(p => WsdSchedule.DecayStartForFraction(steps, p / 100.0)).Distinct()
            .Select(start => (Start: start, Risk: Exact(start))).ToList();
        var best = grid.MinBy(g => g.Risk);
        long planned = WsdSchedule.DecayStartForFraction(steps, 0.2);
        double fixedRisk = Exact(planned);
        var law = LossCurveLaws.Default;
        var prior = evidence == RegretEvidence.Prior ? CalibrationPrior(task, peak, (int)(0.3 * steps), law) : null;
        var probeForks = probeAt.Select(f => (long)Math.Round(f * steps)).ToHashSet();
        int probeLength = (int)Math.Max(2, Math.Round(0.04 * steps));

        RegretRun Controlled(int seed)
        {
            var run = new SgdRun(task, seed);
            using var monitor = new TrainingMonitor(Schedule.Wsd(peak, 0, planned, steps), steps, new TrainingMonitorOptions
            {
                // No fit time limit: a refit given up under load would make the result depend on the machine.
                Forecaster = new ForecasterOptions { Law = law, RefitInterval = Math.Max(10, steps / 50), Prior = prior, BandSamples = 0, FitTimeLimit = Timeout.InfiniteTimeSpan },
                DecayControl = new DecayControllerOptions(),
            });
            for (long k = 0; k < steps; k++)
            {
                if (evidence == RegretEvidence.Probe && probeForks.Contains(k)) monitor.AddProbe(Probe(run, seed, monitor.Schedule.GetLearningRate(k), probeLength, observation));
                double loss = Observed(run, monitor.Schedule.GetLearningRate(k), observation);
                monitor.OnStepEnd(k, loss);
            }
            long chosen = ((WsdSchedule)monitor.Schedule).DecayStartStep;
            long evidenceStep = Math.Max(monitor.Controller!.EarliestStart, evidence == RegretEvidence.Probe ? probeForks.Min() + probeLength : 0);
            double reachable = grid.Where(g => g.Start >= evidenceStep).Select(g => g.Risk).DefaultIfEmpty(fixedRisk).Min();
            return new RegretRun(seed, chosen, best.Start, Exact(chosen), best.Risk, fixedRisk, planned, evidenceStep, Math.Min(reachable, fixedRisk));
        }
        var runs = new RegretRun[seeds.Count];
        Parallel.For(0, seeds.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => runs[i] = Controlled(seeds[i]));
        return runs;
    }

    // A cooldown probe forked from `run` before its next step: linear from `rate` to 0 over `length` steps, on batches of its
    // own (a seed derived from the run's), the run itself untouched; observed as the run is.
    private static CooldownProbe Probe(SgdRun run, int seed, double rate, int length, RegretObservation observation)
    {
        var fork = run.Fork(unchecked(seed * 7919 + 104729));
        var rates = Enumerable.Range(0, length).Select(i => rate * (1 - (double)i / length)).ToArray();
        return new CooldownProbe(run.Steps, rates, rates.Select(rate => Observed(fork, rate, observation)).ToArray());
    }

    // One step of `run` at `rate`, and what the monitor sees of it: the batch's loss, or the population loss of the iterate
    // the step started from (where the batch's loss was taken).
    internal static double Observed(SgdRun run, double rate, RegretObservation observation)
    {
        if (observation == RegretObservation.Batch) return run.Step(rate);
        double population = run.Risk + 0.5 * run.NoiseVariance; // O(M): only where it is seen
        run.Step(rate);
        return population;
    }

    // The default law fitted to two sampled calibration runs of `steps` steps (a 20% WSD and a cosine to 0, seeds −1 and
    // −2), as a prior of the decay response; null when that fit fails.
    private static ParameterPrior? CalibrationPrior(KernelRegressionTask task, double peak, int steps, LossCurveLaw law)
    {
        ObservedCurve Calibration(string name, LearningRateSchedule schedule, int seed)
        {
            var rates = schedule.Sample(steps);
            var run = SgdSimulation.Sample(task, rates, seed);
            var at = Enumerable.Range(1, steps - 1).ToList();
            return new ObservedCurve(name, new SampledSchedule(rates), at, at.Select(k => run.BatchLoss[k]).ToList());
        }
        var calibration = LawFitter.Fit(law, [
            Calibration("calibration-wsd", Schedule.Wsd(peak, 0, WsdSchedule.DecayStartForFraction(steps, 0.2), steps), -1),
            Calibration("calibration-cosine", Schedule.Cosine(peak, 0, steps), -2)]);
        return calibration.Succeeded ? ParameterPrior.FromFit(calibration, 0.02, law.DecayResponseParameters) : null;
    }

    /// <summary>
    /// The FSL-optimal family on the simulator against a direct search over schedules (see <see cref="Optimal"/>);
    /// risks are the exact expected final excess risk.
    /// </summary>
    /// <param name="FamilyScale">c of the best family member (η_max = the peak), searched on the simulator.</param>
    /// <param name="FamilyRisk">Its final risk.</param>
    /// <param name="TheoryScale">c* of <see cref="FslOptimalSchedule.SolveCapped"/> for the task's s, β and σ² with the peak as the cap (the theory's constants).</param>
    /// <param name="TheoryRisk">The final risk of the family member with c*, capped at the peak.</param>
    /// <param name="SearchRisk">The lowest final risk the direct search found (never above the family's: it starts there).</param>
    /// <param name="Evaluations">Schedules the direct search evaluated.</param>
    /// <param name="BestWsdFraction">The best cooldown fraction of a linear WSD to 0 at the same peak (5% grid).</param>
    /// <param name="BestWsdRisk">Its final risk.</param>
    /// <param name="CosineRisk">A cosine to 0 at the same peak.</param>
    /// <param name="FamilyRates">The best family member's LR at every step.</param>
    /// <param name="SearchRates">The search's best schedule's LR at every step.</param>
    public sealed record OptimalCheck(double FamilyScale, double FamilyRisk, double TheoryScale, double TheoryRisk, double SearchRisk, int Evaluations,
        double BestWsdFraction, double BestWsdRisk, double CosineRisk, IReadOnlyList<double> FamilyRates, IReadOnlyList<double> SearchRates)
    {
        /// <summary>How much higher the best family member ends than the search's best, relative (the issue's target: ≤ 1%).</summary>
        public double FamilyExcess => FamilyRisk / SearchRisk - 1;
    }

    /// <summary>
    /// Checks the FSL-optimal schedule family η(k) = min(η_max, c·(1 + c·n/(2β))^(2β−1)) (n = N − k steps remaining;
    /// <see cref="FslOptimalSchedule"/>) on the simulator of its own setting: its best member (c by golden-section search
    /// on the exact final risk, η_max = <paramref name="peak"/>) against the best schedule a direct search finds, a
    /// piecewise-linear log-LR with <paramref name="knots"/> knots log-spaced in the steps remaining (capped at the peak;
    /// Nelder–Mead from the family's best and from a constant peak, each restarted from its best point while that
    /// helps, up to five times, each run given <paramref name="evaluations"/> iterations; the best schedule evaluated
    /// counts). The theory's own c* (whose constants are those of the FSL,
    /// not of the simulator) and the best linear WSD and a cosine stand beside them.
    /// </summary>
    public static OptimalCheck Optimal(KernelRegressionTask task, double peak, int steps, int knots = 8, int evaluations = 3000)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (knots < 2) throw new ArgumentOutOfRangeException(nameof(knots), knots, "knots must be >= 2.");
        double Risk(IReadOnlyList<double> rates) => SgdSimulation.ExpectedRisk(task, rates)[^1];
        double Family(double scale) => Risk(new FslOptimalSchedule(scale, task.Capacity, steps, peak).Sample(steps));

        double lnScale = MathNet.Numerics.FindMinimum.OfScalarFunctionConstrained(x => Family(Math.Exp(x)), Math.Log(peak * 1e-5), Math.Log(peak), 1e-5);
        double familyScale = Math.Exp(lnScale), familyRisk = Family(familyScale);
        double theoryScale = FslOptimalSchedule.SolveCapped(task.Source, task.Capacity, task.NoiseVariance, steps, peak).Scale;

        // Knots at steps remaining N, …, 1, 0 spaced evenly in ln(1 + n); the log-LR is linear between them.
        var at = Enumerable.Range(0, knots).Select(i => steps - Math.Exp(Math.Log(steps + 1.0) * (1 - i / (knots - 1.0))) + 1).ToArray();
        double[] Rates(IReadOnlyList<double> lnRates)
        {
            var rates = new double[steps];
            for (int k = 0, i = 0; k < steps; k++)
            {
                while (i < knots - 2 && k > at[i + 1]) i++;
                double w = Math.Clamp((k - at[i]) / (at[i + 1] - at[i]), 0, 1);
                rates[k] = Math.Min(peak, Math.Exp(lnRates[i] + w * (lnRates[i + 1] - lnRates[i])));
            }
            return rates;
        }
        var family = new FslOptimalSchedule(familyScale, task.Capacity, steps, peak);
        double searchRisk = familyRisk;
        double[] searchRates = family.Sample(steps);
        double[]? searchPoint = null;
        int evaluated = 0;
        double Objective(MathNet.Numerics.LinearAlgebra.Vector<double> x)
        {
            var rates = Rates(x.ToArray());
            double risk = Risk(rates);
            evaluated++;
            if (risk < searchRisk) (searchRisk, searchRates, searchPoint) = (risk, rates, x.ToArray());
            return double.IsFinite(risk) ? risk : double.MaxValue;
        }
        var starts = new[]
        {
            at.Select(k => Math.Log(family.GetLearningRate((long)Math.Min(steps - 1, Math.Round(k))))).ToArray(),
            Enumerable.Repeat(Math.Log(peak), knots).ToArray(),
        };
        // Nelder–Mead from each start, restarted from the best point so far (a fresh simplex) while that still helps.
        foreach (var start in starts)
        {
            var from = start;
            for (int restart = 0; restart < 5; restart++)
            {
                double before = searchRisk;
                try
                {
                    MathNet.Numerics.Optimization.NelderMeadSimplex.Minimum(MathNet.Numerics.Optimization.ObjectiveFunction.Value(Objective),
                        MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(from),
                        MathNet.Numerics.LinearAlgebra.Vector<double>.Build.Dense(knots, restart == 0 ? 0.5 : 0.2), 1e-12, evaluations);
                }
                catch (MathNet.Numerics.Optimization.MaximumIterationsException)
                {
                    // The search ran out of evaluations: the best schedule it evaluated counts.
                }
                if (searchPoint == null || searchRisk > before * (1 - 1e-6)) break;
                from = searchPoint;
            }
        }

        var wsd = Enumerable.Range(1, 20).Select(p => p / 20.0)
            .Select(f => (Fraction: f, Risk: Risk(Schedule.Wsd(peak, 0, WsdSchedule.DecayStartForFraction(steps, f), steps).Sample(steps))))
            .MinBy(w => w.Risk);
        return new OptimalCheck(familyScale, familyRisk, theoryScale, Family(theoryScale), searchRisk, evaluated, wsd.Fraction, wsd.Risk,
            Risk(Schedule.Cosine(peak, 0, steps).Sample(steps)), family.Sample(steps), searchRates);
    }

    /// <summary>About <paramref name="count"/> log-spaced steps in [1, <paramref name="last"/>], distinct, increasing.</summary>
    public static int[] LogSteps(int last, int count) =>
        Enumerable.Range(0, count).Select(i => (int)Math.Round(Math.Pow(last, i / (count - 1.0)))).Distinct().ToArray();
}
