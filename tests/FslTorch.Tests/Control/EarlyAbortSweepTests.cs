using FslTorch.Control;
using FslTorch.Fitting;
using FslTorch.Schedules;
using FslTorch.Surrogates;
using Xunit;

namespace FslTorch.Tests.Control;

public sealed class EarlyAbortSweepTests
{
    private const long Steps = 2000;

    // The direct FSL of a 124M run of the shared data (fitted at peak 1e-3 on the first 45% of a 20%-cooldown run), in
    // units of LR 1e-3: one set of parameters gives every peak LR its curve, the signal faster and the noise larger the
    // higher the LR, so the sweep has a best LR.
    private static readonly FitResult Truth = FitResult.FromParameters(LossCurveLaws.Default, 1e-3, [2.557, 13.28, 0.00179, 2.168, 0.427, 1.397, 0.045]);

    private static WsdSchedule Wsd(double peak) => new(peak, 100, WsdSchedule.DecayStartForFraction(Steps, 0.2), Steps, DecayShape.Linear, DecayTarget.Zero, peak / 100);

    // A logged run: the true loss every 10 steps with seeded noise of 0.003.
    private static Dictionary<long, double> Run(double peak, int seed)
    {
        var steps = Enumerable.Range(0, (int)(Steps / 10)).Select(i => i * 10 + 9).ToArray();
        var loss = Truth.Predict(Wsd(peak).Sample(Steps).ToArray(), steps);
        var random = new Random(seed);
        return steps.Select((s, i) => (s, loss[i] + 0.003 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))
            .ToDictionary(p => (long)p.s, p => p.Item2);
    }

    private static TrainingMonitorOptions Options() => new()
    {
        Forecaster = new ForecasterOptions { RefitInterval = 100, FromStep = 100 },
        DecayControl = null,
        MaxNonFiniteLosses = int.MaxValue, // the steps between logged losses arrive as NaN
    };

    // Replays a logged run through a monitor with the sweep's options; the steps taken and the last loss seen.
    private static SweepRun Replay(EarlyAbortSweep sweep, double peak, int seed)
    {
        var logged = Run(peak, seed);
        using var monitor = new TrainingMonitor(Wsd(peak), Steps, sweep.OptionsFor(peak, Options()));
        long taken = Steps;
        double last = double.NaN;
        for (long step = 0; step < Steps; step++)
        {
            double loss = logged.GetValueOrDefault(step, double.NaN);
            if (double.IsFinite(loss)) last = loss;
            if (monitor.OnStepEnd(step, loss).HasFlag(TrainingSignal.Stop))
            {
                taken = step + 1;
                break;
            }
        }
        return sweep.Record(peak, monitor, taken, last);
    }

    [Fact]
    public void ASweepStopsTheRunsPlantedToBeHopelessAndKeepsTheOnePlantedToWin()
    {
        // Planted (final losses of the true law): 3e-3 wins; 6e-3 ends 0.08 above it, 1e-3 0.12 and 1e-2 0.24. Run in
        // this order, the winner comes second and must beat the first's threshold; the last two are hopeless.
        double[] peaks = [6e-3, 3e-3, 1e-3, 1e-2];
        var final = peaks.ToDictionary(p => p, p => Truth.Predict(Wsd(p).Sample(Steps).ToArray(), [(int)Steps - 1])[0]);
        Assert.True(peaks.MinBy(p => final[p]) == 3e-3 && final[1e-3] - final[3e-3] > 0.1 && final[1e-2] - final[3e-3] > 0.2,
            string.Join(", ", final.Select(f => $"{f.Key}: {f.Value:F4}")));

        var sweep = new EarlyAbortSweep(margin: 0.05);
        foreach (double peak in peaks) Replay(sweep, peak, seed: (int)(peak * 1e5));

        var byPeak = sweep.Runs.ToDictionary(r => r.Setting);
        string Describe() => string.Join("; ", sweep.Runs.Select(r => $"{r.Setting}: {r.StepsTaken} steps, {r.StopReason ?? "finished"}"));
        Assert.True(byPeak[6e-3].Finished); // the first: nothing to beat
        Assert.True(byPeak[3e-3].Finished, Describe());
        Assert.Equal(3e-3, sweep.Best!.Setting);
        Assert.False(byPeak[1e-3].Finished, Describe());
        Assert.False(byPeak[1e-2].Finished, Describe());
        // Stopped before their cooldowns (from step 1600) could have shown them hopeless.
        Assert.All(new[] { byPeak[1e-3], byPeak[1e-2] }, r => Assert.InRange(r.StepsTaken, 1, WsdSchedule.DecayStartForFraction(Steps, 0.2)));
        Assert.True(sweep.SavedShare > 0.1, $"saved {sweep.SavedShare:P1}");
    }

    [Fact]
    public void WithoutThePriorFromTheFinishedRunsTheHopelessRunIsNotStoppedBeforeItsCooldown()
    {
        // The same sweep with the prior left out: a fixed schedule's run has no evidence of the cooldown ahead, so its
        // forecasts cannot be calibrated and the monitor's Abort mode does not vote until the cooldown has begun.
        var sweep = new EarlyAbortSweep(margin: 0.05);
        Replay(sweep, 3e-3, seed: 300);
        var logged = Run(1e-2, seed: 1000);
        var options = sweep.OptionsFor(1e-2, Options());
        Assert.NotNull(options.Forecaster.Prior);
        using var monitor = new TrainingMonitor(Wsd(1e-2), Steps, options with { Forecaster = options.Forecaster with { Prior = null } });
        long stopped = Steps;
        for (long step = 0; step < Steps && stopped == Steps; step++)
        {
            if (monitor.OnStepEnd(step, logged.GetValueOrDefault(step, double.NaN)).HasFlag(TrainingSignal.Stop)) stopped = step + 1;
        }
        Assert.True(stopped > WsdSchedule.DecayStartForFraction(Steps, 0.2), $"stopped at {stopped}");
    }

    [Fact]
    public void OptionsGainTheThresholdAndThePriorOfTheNearestFinishedRunOnceARunFinished()
    {
        var sweep = new EarlyAbortSweep(margin: 0.02, priorSpread: 0.05);
        var options = Options();
        Assert.Same(options, sweep.OptionsFor(1e-3, options)); // the first run has nothing to beat
        Assert.Null(sweep.Threshold);

        var low = FitResult.FromParameters(LossCurveLaws.Default, 1e-4, [2.6, 13, 0.002, 2, 0.4, 1.4, 0.05]);
        sweep.Record(new SweepRun(1e-4, Steps, Steps, 3.10, null, low));
        sweep.Record(new SweepRun(1e-2, Steps, 500, 3.50, "forecast above the threshold", Truth)); // stopped: neither threshold nor prior
        sweep.Record(new SweepRun(1e-3, Steps, Steps, 3.05, null, Truth));
        Assert.Equal(3.07, sweep.Threshold!.Value, 12);
        Assert.Equal(1e-3, sweep.Best!.Setting);

        var next = sweep.OptionsFor(5e-4, options);
        Assert.Equal(EarlyStoppingMode.Abort, next.EarlyStopping.Mode);
        Assert.Equal(3.07, next.EarlyStopping.Threshold, 12);
        Assert.Equal(options.EarlyStopping.Patience, next.EarlyStopping.Patience);
        Assert.Equal(EarlyAbortSweep.MaxForecastAge, next.Forecaster.MaxForecastAge); // each forecast can stop the run
        Assert.Equal(0.01, sweep.OptionsFor(5e-4, options with { Forecaster = options.Forecaster with { MaxForecastAge = 0.01 } }).Forecaster.MaxForecastAge);
        // 5e-4 lies nearer 1e-3 than 1e-4 in log LR: the prior is that run's fit, in its LR unit, on every parameter but
        // the level (L0, A free).
        var prior = next.Forecaster.Prior!;
        Assert.Equal(Truth.Parameters, prior.Mean);
        Assert.Equal(1e-3, prior.LearningRateScale);
        Assert.Equal([double.PositiveInfinity, double.PositiveInfinity, 0.05, 0.05, 0.05, 0.05, 0.05], prior.StandardDeviations);
        Assert.Equal(["C", "tau", "s", "beta", "D"], EarlyAbortSweep.ShapeParameters(LossCurveLaws.Default));
        Assert.Equal(low.Parameters, sweep.OptionsFor(2e-4, options).Forecaster.Prior!.Mean);

        // A prior of the caller's own is kept; a size sweep's prior holds the decay response only.
        var own = new ParameterPrior(Truth.Parameters, Truth.Parameters.Select(_ => 1.0).ToArray());
        Assert.Same(own, sweep.OptionsFor(5e-4, options with { Forecaster = options.Forecaster with { Prior = own } }).Forecaster.Prior);
        var sizes = new EarlyAbortSweep(0.02, priorParameters: LossCurveLaws.Default.DecayResponseParameters);
        sizes.Record(new SweepRun(1e6, Steps, Steps, 3.0, null, Truth));
        var held = sizes.PriorFor(2e6)!.StandardDeviations;
        var names = LossCurveLaws.Default.Parameters.Select(p => p.Name).ToList();
        Assert.All(names, n => Assert.Equal(LossCurveLaws.Default.DecayResponseParameters.Contains(n), double.IsFinite(held[names.IndexOf(n)])));

        Assert.Equal(1 - (2.0 * Steps + 500) / (3.0 * Steps), sweep.SavedShare, 12); // 500 of the stopped run's 2000 steps taken
    }

    [Fact]
    public void AFinishedRunsForecastErrorsWidenTheNextRunsBandSoAHopelessRunIsStoppedOnlyWhenItsMissIsBeyondThem()
    {
        // The planted winner finishes first; its recorded forecast errors are replaced by planted ones. Errors of 0.02
        // leave the 1e-2 run (0.24 above the winner) hopeless, and it stops before its cooldown; errors of 0.5 at every
        // fraction say forecasts of this model were that far off, and it is not stopped before its cooldown.
        static SweepRun Hopeless(double error)
        {
            var sweep = new EarlyAbortSweep(margin: 0.05);
            var winner = Replay(sweep, 3e-3, seed: 300);
            Assert.True(winner.Finished);
            Assert.NotEmpty(winner.ForecastErrors);
            var planted = new EarlyAbortSweep(margin: 0.05);
            planted.Record(winner with { ForecastErrors = [new ForecastError(0.05, error), new ForecastError(1.0, -error)] });
            Assert.Equal(error, ForecastError.SizeAt(planted.OptionsFor(1e-2, Options()).EarlyStopping.ReferenceErrors, 0.5));
            return Replay(planted, 1e-2, seed: 1000);
        }

        long cooldown = WsdSchedule.DecayStartForFraction(Steps, 0.2);
        var narrow = Hopeless(0.02);
        Assert.InRange(narrow.StepsTaken, 1, cooldown);
        var wide = Hopeless(0.5);
        Assert.True(wide.StepsTaken > cooldown, $"{wide.StepsTaken} steps: {wide.StopReason}");
    }

    [Fact]
    public void ARecordedRunCarriesItsForecastErrorsAndTheNearestFinishedRunsAreTheReference()
    {
        var sweep = new EarlyAbortSweep(margin: 0.05);
        var run = Replay(sweep, 3e-3, seed: 300);
        // Each forecast of the finished run, against the final loss it was recorded with, at (step + 1) / N.
        Assert.True(run.ForecastErrors.Count >= 10, $"{run.ForecastErrors.Count} errors");
        Assert.All(run.ForecastErrors, e => Assert.InRange(e.Fraction, 0, 1));
        Assert.Equal(run.ForecastErrors.OrderBy(e => e.Fraction).ToList(), run.ForecastErrors);
        var sizes = run.ForecastErrors.Select(e => Math.Abs(e.Error)).ToList();
        Assert.True(sizes.Max() > 0 && sizes.Max() < 1, string.Join(", ", sizes));

        sweep.Record(new SweepRun(1e-3, Steps, Steps, 3.5, null, Truth) { ForecastErrors = [new(0.5, 0.3)] });
        sweep.Record(new SweepRun(2e-3, Steps, 100, 3.4, "stopped", Truth) { ForecastErrors = [new(0.5, 0.9)] }); // stopped: never a reference
        Assert.Same(run.ForecastErrors, sweep.ReferenceErrorsFor(5e-3));
        Assert.Equal(0.3, ForecastError.SizeAt(sweep.ReferenceErrorsFor(1.5e-3), 0.2));
        Assert.Same(run.ForecastErrors, sweep.OptionsFor(5e-3, Options()).EarlyStopping.ReferenceErrors);
        // Errors of the caller's own are kept; a sweep told not to widen passes none.
        var own = Options() with { EarlyStopping = new EarlyStoppingOptions { ReferenceErrors = [new(1.0, 0.1)] } };
        Assert.Same(own.EarlyStopping.ReferenceErrors, sweep.OptionsFor(5e-3, own).EarlyStopping.ReferenceErrors);
        var plain = new EarlyAbortSweep(margin: 0.05, widenByReference: false);
        plain.Record(run);
        Assert.Empty(plain.OptionsFor(5e-3, Options()).EarlyStopping.ReferenceErrors);
    }

    [Fact]
    public void TheSizeOfAReferenceErrorIsTheLargerOfTheTwoForecastsAroundAFraction()
    {
        IReadOnlyList<ForecastError> errors = [new(0.2, 0.1), new(0.4, -0.3), new(0.6, 0.05)];
        Assert.Equal(0.1, ForecastError.SizeAt(errors, 0.05)); // before the first: the first
        Assert.Equal(0.1, ForecastError.SizeAt(errors, 0.2));  // on one: that one
        Assert.Equal(0.3, ForecastError.SizeAt(errors, 0.3));  // between: the larger
        Assert.Equal(0.3, ForecastError.SizeAt(errors, 0.5));
        Assert.Equal(0.05, ForecastError.SizeAt(errors, 0.6));
        Assert.Equal(0.05, ForecastError.SizeAt(errors, 0.9)); // after the last: the last
        Assert.Equal(0, ForecastError.SizeAt([], 0.5));

        // With decay evidence a forecast is scored at the end; without, at its horizon (the step before a decay it had
        // not seen) against the mean loss of the last 2% of the budget up to there (steps 96–99 of 200: 3.4).
        IReadOnlyList<(long, double)> curve = [(90, 9.0), (96, 3.3), (98, 3.5), (120, 3.1), (199, 3.0)];
        var made = ForecastError.Of([
            new ForecastRecord(99, 3.2, 3.1, 3.3, true, true, 199, 3.2),
            new ForecastRecord(49, double.NaN, 0, 0, false, true, 199, double.NaN),
            new ForecastRecord(19, 2.5, 2, 3, false, false, 99, 3.6),
            new ForecastRecord(9, 2.5, 2, 3, false, false, 5, 3.6), // no loss at or before its horizon
        ], 200, 3.0, curve);
        Assert.Equal(2, made.Count);
        Assert.Equal(0.1, made[0].Fraction);
        Assert.Equal(0.2, made[0].Error, 12);
        Assert.Equal(new ForecastError(0.5, 3.2 - 3.0), made[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ForecastError.Of([], 0, 3.0, curve));
        Assert.Throws<ArgumentOutOfRangeException>(() => ForecastError.Of([], 100, double.NaN, curve));
    }

    [Fact]
    public void APerfectAbortSavesTheStepsOfEveryRunThatEndsMoreThanTheMarginAboveTheBest()
    {
        // Best 1.40; 1.44 lies within a margin of 0.05, 1.50 and 2.00 beyond it; the runs' steps differ.
        (double, long)[] runs = [(1.40, 1000), (1.44, 1000), (1.50, 500), (2.00, 1500)];
        Assert.Equal(2000.0 / 4000, EarlyAbortSweep.PerfectAbortSaving(runs, margin: 0.05), 12);
        Assert.Equal(1500.0 / 4000, EarlyAbortSweep.PerfectAbortSaving(runs, margin: 0.2), 12);
        Assert.Equal(3000.0 / 4000, EarlyAbortSweep.PerfectAbortSaving(runs, margin: 0), 12);
        Assert.Equal(0, EarlyAbortSweep.PerfectAbortSaving([(1.40, 1000)], margin: 0.05));
        Assert.Throws<ArgumentException>(() => EarlyAbortSweep.PerfectAbortSaving([], 0.05));
        Assert.Throws<ArgumentException>(() => EarlyAbortSweep.PerfectAbortSaving([(double.NaN, 1000)], 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => EarlyAbortSweep.PerfectAbortSaving(runs, -0.1));
    }

    [Fact]
    public void MiddleOutRunsTheMiddleSettingFirstThenAlternatesOutward()
    {
        Assert.Equal([3, 4, 2, 5, 1, 6], EarlyAbortSweep.MiddleOut([6, 1, 5, 2, 4, 3]));
        Assert.Equal([3, 4, 2, 5, 1], EarlyAbortSweep.MiddleOut([1, 2, 3, 4, 5]));
        Assert.Equal([7], EarlyAbortSweep.MiddleOut([7]));
        Assert.Empty(EarlyAbortSweep.MiddleOut([]));
    }

    [Fact]
    public void BadInputIsRefusedWithAClearError()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyAbortSweep(-0.01));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyAbortSweep(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyAbortSweep(0.01, priorSpread: 0));
        var sweep = new EarlyAbortSweep(0.01);
        Assert.Throws<ArgumentOutOfRangeException>(() => sweep.OptionsFor(0, Options()));
        Assert.Throws<ArgumentOutOfRangeException>(() => sweep.Record(new SweepRun(1e-3, Steps, Steps + 1, 3.0, null, null)));
        Assert.Throws<ArgumentException>(() => sweep.Record(new SweepRun(1e-3, Steps, Steps, double.NaN, null, null)));
        Assert.Throws<ArgumentOutOfRangeException>(() => sweep.Record(new SweepRun(-1, Steps, Steps, 3.0, null, null)));
        Assert.Throws<ArgumentException>(() => sweep.Record(new SweepRun(1e-3, Steps, Steps, 3.0, null, null) { ForecastErrors = [new(1.5, 0.1)] }));
        Assert.Throws<ArgumentException>(() => sweep.Record(new SweepRun(1e-3, Steps, Steps, 3.0, null, null) { ForecastErrors = [new(0.5, 0.1), new(0.2, 0.1)] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingMonitor(Wsd(1e-3), Steps, Options() with
        {
            EarlyStopping = new EarlyStoppingOptions { Mode = EarlyStoppingMode.Abort, Threshold = 3, ReferenceErrors = [new(0.5, double.NaN)] },
        }));
        Assert.Empty(sweep.Runs);
        // An unknown parameter name fails when the prior is built, before a run starts with it.
        var named = new EarlyAbortSweep(0.01, priorParameters: ["nope"]);
        named.Record(new SweepRun(1e-3, Steps, Steps, 3.0, null, Truth));
        Assert.ThrowsAny<ArgumentException>(() => named.OptionsFor(2e-3, Options()));
    }
}
