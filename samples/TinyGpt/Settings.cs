using System.Text.Json.Serialization;

namespace TinyGpt;

/// <summary>Everything a run is configured with (written to config.json).</summary>
public sealed record Settings
{
    public long Steps { get; init; } = 2000;
    public int Layers { get; init; } = 4;
    public int Width { get; init; } = 96;
    public int Heads { get; init; } = 4;
    public int Context { get; init; } = 128;
    public int Batch { get; init; } = 32;
    public double PeakLearningRate { get; init; } = 6e-3;
    /// <summary>The warmup's length as a fraction of the steps, unless <see cref="WarmupSteps"/> is set.</summary>
    public double WarmupFraction { get; init; } = 0.05;
    /// <summary>The warmup's length in steps (null: <see cref="WarmupFraction"/> of the steps; a config.json from before this field meant that).</summary>
    public long? WarmupSteps { get; init; }
    public double WeightDecay { get; init; } = 0.1;
    // The three fields below came after the first runs; their initial values are what a config.json without them
    // meant (AdamW β2 0.95, no clipping, every weight at 0.02), so an older run resumes as it was. The presets set the recipe.
    /// <summary>AdamW's β2.</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Clip the gradient's global norm to this before each step; 0: no clipping.</summary>
    public double GradientClip { get; init; }
    /// <summary>Initialise the residual projections (attention output, MLP down) at 0.02/√(2·layers), as GPT-2 does.</summary>
    public bool ScaledResidualInit { get; init; }
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 8;
    public int CheckpointEvery { get; init; } = 250;
    public string? Data { get; init; }
    /// <summary>bytes (vocabulary 256) or cl100k (renumbered over the ids the corpus uses).</summary>
    public string Tokenizer { get; init; } = "bytes";
    public string Device { get; init; } = "auto";
    /// <summary>
    /// Where the monitor refits: auto (in the background on a CUDA device, whose loop leaves the CPU cores idle; inline
    /// on the CPU, where a fit would take a core from TorchSharp's threads), on or off.
    /// </summary>
    public string BackgroundRefits { get; init; } = "auto";
    public int Threads { get; init; } = 2;
    public long Seed { get; init; } = 1;
    public string Out { get; init; } = "runs/tinygpt";
    /// <summary>controlled (a WSD whose decay start the monitor moves), wsd:F (cooldown fraction F), cosine (to 10%) or constant.</summary>
    public string Schedule { get; init; } = "controlled";
    public string? Prior { get; init; }
    /// <summary>The prior's standard deviation (log units) on the parameters it holds.</summary>
    public double PriorSpread { get; init; } = 0.1;
    /// <summary>The parameters the prior holds; null: the law's decay-response parameters.</summary>
    public string[]? PriorOn { get; init; }
    /// <summary>
    /// The fractions of the budget at which a cooldown probe forks (a copy of model and optimizer trains a linear decay
    /// to 0 over <see cref="ProbeFraction"/> of the budget, then the run goes on untouched): in a controlled run, and in a
    /// fixed-schedule run whose own decay begins after the probe has ended (see <see cref="ProbeSteps"/>).
    /// </summary>
    public double[] ProbeAt { get; init; } = [0.4];
    /// <summary>
    /// Fork the probes of <see cref="ProbeAt"/> in a fixed-schedule run at every fraction, its own decay begun or not
    /// (set by an explicit <c>--probe-at</c>); its schedule stays as given.
    /// </summary>
    public bool ProbesInFixedRuns { get; init; }
    /// <summary>Refit every this many steps; null: the monitor's default (2% of the budget, stretched to keep refits within 1% of the wall time).</summary>
    public int? RefitEvery { get; init; }
    /// <summary>The length of each cooldown probe, as a fraction of the budget.</summary>
    public double ProbeFraction { get; init; } = 0.04;
    /// <summary>Steps after which a checkpoint is also kept in checkpoint/step-K (branch points).</summary>
    public long[] CheckpointAt { get; init; } = [];
    /// <summary>The run folder and step this run branched from, if any.</summary>
    public string? BranchedFrom { get; init; }
    [JsonIgnore] public long? StopAt { get; init; }
    /// <summary>
    /// A decision file that another process (<c>fsl watch</c>) keeps up to date: every few steps a fixed WSD run moves
    /// its decay start to the file's <c>decay_start_step</c> (to the next step when that one has passed: the watcher
    /// decided "now" while the run went on; never once the decay began) and
    /// stops when it says <c>stop</c>.
    /// </summary>
    public string? DecisionsFrom { get; init; }
    /// <summary>Abort the run once a calibrated forecast band stays above this final loss (the monitor's Abort mode).</summary>
    public double? AbortAbove { get; init; }
    /// <summary>
    /// With <see cref="AbortAbove"/>: the folder of a finished run of the same sweep, whose forecasts' errors against its
    /// final training loss widen the abort band at the same fraction of the budget (<c>EarlyStoppingOptions.ReferenceErrors</c>).
    /// </summary>
    public string? AbortReference { get; init; }

    /// <summary>
    /// The optimisation recipe of every preset (nanoGPT's and GPT-2's): AdamW β2 0.99, the gradient clipped to norm 1,
    /// residual projections initialised at 0.02/√(2·layers). Chosen by measurement (README, "TinyGpt's recipe"): with it
    /// the default 2000-step run's loss keeps slowing down after the first tenth; without it, at the same size and
    /// learning rate, it plateaus and then drops again. (1000-step runs drop again either way.)
    /// </summary>
    public static Settings Recipe { get; } = new() { Beta2 = 0.99, GradientClip = 1, ScaledResidualInit = true };

    /// <summary>Named sizes; flags override their fields.</summary>
    public static Settings Preset(string name) => name switch
    {
        "tiny" => Recipe with { Layers = 2, Width = 32, Heads = 2, Context = 32, Batch = 8, Steps = 200, EvalEvery = 50, CheckpointEvery = 50 },
        // 100 warmup steps whatever the budget (nanoGPT's ~100; a run under 1000 steps gets a tenth of its steps): at 1000
        // steps a warmup of 5% (50 steps) left the loss on a plateau for 300 steps before a second drop (acceleration 6.3 on
        // the second corpus); with 100 the plateau was shorter (2.9) and the final loss 0.09 lower (README, TinyGpt's recipe).
        "small" => Recipe with { WarmupSteps = 100 },
        "medium" => Recipe with { Layers = 6, Width = 256, Heads = 8, Context = 256, Batch = 16, PeakLearningRate = 3e-3, Steps = 2000 },
        _ => throw new ArgumentException($"Unknown preset '{name}'; expected tiny, small or medium."),
    };

    /// <summary>Throws a clear error for settings no run can use.</summary>
    public void Validate()
    {
        if (Steps < 20) throw new ArgumentException("--steps must be >= 20.");
        if (Layers < 1 || Width < 8 || Heads < 1 || Width % Heads != 0) throw new ArgumentException("--layers >= 1, --width >= 8 and a --heads that divides --width are needed.");
        if (Context < 4 || Batch < 1) throw new ArgumentException("--context >= 4 and --batch >= 1 are needed.");
        if (!(PeakLearningRate > 0)) throw new ArgumentException("--lr must be > 0.");
        if (!(WarmupFraction >= 0 && WarmupFraction < 0.5)) throw new ArgumentException("--warmup must lie in [0, 0.5).");
        if (WarmupSteps is long warmupSteps && !(warmupSteps >= 1 && 2 * warmupSteps < Steps)) throw new ArgumentException($"--warmup-steps must lie in [1, {(Steps - 1) / 2}] (less than half of the {Steps} steps).");
        if (!(Beta2 > 0 && Beta2 < 1)) throw new ArgumentException("--beta2 must lie in (0, 1).");
        if (!(GradientClip >= 0 && double.IsFinite(GradientClip))) throw new ArgumentException("--clip must be >= 0 (0: no clipping).");
        if (EvalEvery < 1 || CheckpointEvery < 1 || EvalBatches < 1) throw new ArgumentException("--eval-every, --checkpoint-every and eval batches must be >= 1.");
        if (Threads < 1) throw new ArgumentException("--threads must be >= 1.");
        if (BackgroundRefits is not ("auto" or "on" or "off")) throw new ArgumentException($"--background-refits {BackgroundRefits}: expected auto, on or off.");
        if (!TextCorpus.Tokenizers.Contains(Tokenizer)) throw new ArgumentException($"--tokenizer {Tokenizer}: expected {string.Join(" or ", TextCorpus.Tokenizers)}.");
        if (!(PriorSpread > 0)) throw new ArgumentException("--prior-spread must be > 0.");
        if (CheckpointAt.Any(k => k < 1 || k >= Steps)) throw new ArgumentException($"--checkpoint-at steps must lie in [1, {Steps - 1}].");
        if (RefitEvery is int every && every < 1) throw new ArgumentException("--refit-every must be >= 1.");
        if (ProbeAt.Any(f => !(f > 0 && f < 1))) throw new ArgumentException("--probe-at fractions must lie in (0, 1).");
        if (!(ProbeFraction > 0 && ProbeFraction <= 0.2)) throw new ArgumentException("--probe-fraction must lie in (0, 0.2].");
        if (AbortAbove is double abort && !(abort > 0 && double.IsFinite(abort))) throw new ArgumentException("--abort-above must be a finite loss > 0.");
        if (AbortReference != null && AbortAbove == null) throw new ArgumentException("--abort-reference goes with --abort-above.");
        var schedule = RunSchedule.Build(this);
        if (DecisionsFrom != null && (RunSchedule.IsControlled(this) || schedule is not FslTorch.Schedules.WsdSchedule))
        {
            throw new ArgumentException("--decisions-from steers a fixed WSD run (--schedule wsd:F); a controlled run moves its own decay.");
        }
    }

    /// <summary>
    /// The steps at which cooldown probes fork: every <see cref="ProbeAt"/> fraction in a controlled run or with
    /// <see cref="ProbesInFixedRuns"/>. A fixed-schedule run forks by default only the probes after which a decay of its own
    /// still lies ahead, so that its forecasts of the final loss know what a cooldown buys on this run (without, the
    /// forecasts of TinyGpt's fixed 20% runs erred by 0.16–0.20 nats at 50% and 75% of the budget; see README): not when
    /// its LR falls before the probe ends (a cosine: the run's own decay is the evidence), nor when it never falls (a
    /// constant), nor in a run with a measured <c>--prior</c> (decay evidence already) or one steered by
    /// <c>--decisions-from</c> (its watcher does not see probes).
    /// </summary>
    public IReadOnlyList<long> ProbeSteps()
    {
        var forks = ProbeAt.Select(ProbeFork).Where(k => k >= 1 && k < Steps - 1).Distinct().Order().ToList();
        if (ProbesInFixedRuns || RunSchedule.IsControlled(this)) return forks;
        if (Prior != null || DecisionsFrom != null) return [];
        var schedule = RunSchedule.Build(this);
        return forks.Where(fork => DecayAfter(schedule, fork, ProbeLength(fork))).ToList();
    }

    // Whether the LR does not fall during a probe forked at `fork` and falls later in the run.
    private bool DecayAfter(FslTorch.Schedules.LearningRateSchedule schedule, long fork, int length)
    {
        for (long k = fork + 1; k < Steps; k++)
        {
            if (schedule.GetLearningRate(k) < schedule.GetLearningRate(k - 1)) return k >= fork + length;
        }
        return false;
    }

    /// <summary>The step at which a probe planned at <paramref name="fraction"/> of the budget forks.</summary>
    public long ProbeFork(double fraction) => (long)Math.Round(fraction * Steps);

    /// <summary>The length of a probe that forks at <paramref name="fork"/>.</summary>
    public int ProbeLength(long fork) => (int)Math.Min(Math.Max(2, Math.Round(ProbeFraction * Steps)), Steps - fork);
}
