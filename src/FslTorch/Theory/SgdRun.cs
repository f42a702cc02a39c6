namespace FslTorch.Theory;

/// <summary>
/// One sampled SGD run on a <see cref="KernelRegressionTask"/>, stepped by the caller (a training loop whose LR a
/// scheduler or a monitor decides as it goes): each <see cref="Step"/> draws a fresh batch, returns its loss at the
/// current iterate, and updates. Seeded: the same seed and learning rates give the same run. O(B·M) per step.
/// </summary>
public sealed class SgdRun
{
    private readonly Random _random;
    private readonly double[] _lambda, _scale, _error, _x, _update;
    private readonly double _sigma;
    private readonly int _batch;

    /// <summary>Starts at θ₀ = 0 (the error is −θ*, with signs drawn from the seed).</summary>
    public SgdRun(KernelRegressionTask task, int seed)
    {
        ArgumentNullException.ThrowIfNull(task);
        _random = new Random(seed);
        _lambda = task.Spectrum();
        _scale = _lambda.Select(Math.Sqrt).ToArray();
        _error = task.TargetPower().Select(p => (_random.Next(2) == 0 ? -1 : 1) * Math.Sqrt(p)).ToArray();
        _x = new double[_lambda.Length];
        _update = new double[_lambda.Length];
        _sigma = Math.Sqrt(task.NoiseVariance);
        _batch = task.BatchSize;
    }

    // A copy of `source`'s iterate that draws its batches from `seed`.
    private SgdRun(SgdRun source, int seed)
    {
        _random = new Random(seed);
        (_lambda, _scale, _sigma, _batch) = (source._lambda, source._scale, source._sigma, source._batch); // read only
        _error = (double[])source._error.Clone();
        _x = new double[_lambda.Length];
        _update = new double[_lambda.Length];
        Steps = source.Steps;
    }

    /// <summary>
    /// A copy of this run at its current iterate that goes on on its own (a cooldown probe forked from the run): it draws its
    /// batches from <paramref name="seed"/>, and stepping either run leaves the other as it was.
    /// </summary>
    public SgdRun Fork(int seed) => new(this, seed);

    /// <summary>σ², the task's label noise: the population loss of an iterate is <see cref="Risk"/> + σ²/2.</summary>
    public double NoiseVariance => _sigma * _sigma;

    /// <summary>Steps taken.</summary>
    public long Steps { get; private set; }

    /// <summary>The excess risk of the current iterate, ½·Σ λ_j·e_j².</summary>
    public double Risk
    {
        get
        {
            double sum = 0;
            for (int j = 0; j < _error.Length; j++) sum += _lambda[j] * _error[j] * _error[j];
            return 0.5 * sum;
        }
    }

    /// <summary>One step at <paramref name="learningRate"/>: the loss of the batch at the current iterate, ½·mean_b (x_bᵀθ − y_b)².</summary>
    public double Step(double learningRate)
    {
        if (!(learningRate >= 0) || !double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be a finite number >= 0.");
        Array.Clear(_update);
        double loss = 0;
        int m = _error.Length;
        for (int n = 0; n < _batch; n++)
        {
            double residual = -_sigma * Gaussian(); // xᵀe − ε
            for (int j = 0; j < m; j++)
            {
                _x[j] = _scale[j] * Gaussian();
                residual += _x[j] * _error[j];
            }
            loss += 0.5 * residual * residual;
            for (int j = 0; j < m; j++) _update[j] += _x[j] * residual;
        }
        double eta = learningRate / _batch;
        for (int j = 0; j < m; j++) _error[j] -= eta * _update[j];
        Steps++;
        return loss / _batch;
    }

    private double Gaussian() => MathNet.Numerics.Distributions.Normal.Sample(_random, 0, 1);
}
