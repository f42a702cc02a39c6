using System.Numerics.Tensors;

namespace FslTorch.Surrogates;

/// <summary>
/// The state of a sum-of-exponentials recursion: several channels (source streams) over the same modes
/// y_m, all decaying together by e^(−κ·y_m·Δ) when intrinsic time moves on by Δ. For the first
/// <c>rateChannels</c> channels it also carries ∂state/∂κ, the derivative with respect to the decay rate:
/// with state' = e^(−κ·y·Δ)·state, ∂state'/∂κ = e^(−κ·y·Δ)·(∂state/∂κ − y·Δ·state).
/// </summary>
internal sealed class ModeBank
{
    private readonly double[] _nodes;
    private readonly double[] _factor;
    private readonly double[] _scratch;
    private readonly double[] _blockX;
    private double _lastExponent = double.NaN;

    public ModeBank(double[] nodes, int channels, int rateChannels)
    {
        _nodes = nodes;
        _factor = new double[nodes.Length];
        _scratch = new double[nodes.Length];
        _blockX = new double[nodes.Length];
        States = new double[channels][];
        for (int c = 0; c < channels; c++) States[c] = new double[nodes.Length];
        RateDerivatives = new double[rateChannels][];
        for (int c = 0; c < rateChannels; c++) RateDerivatives[c] = new double[nodes.Length];
    }

    /// <summary>Per channel, the amount in each mode.</summary>
    public double[][] States { get; }

    /// <summary>∂States[c]/∂κ for the first channels.</summary>
    public double[][] RateDerivatives { get; }

    /// <summary>Moves every channel on by intrinsic time Δ at decay rate κ.</summary>
    public void Advance(double delta, double rate)
    {
        if (delta == 0) return;
        double exponent = rate * delta;
        if (exponent != _lastExponent)
        {
            TensorPrimitives.Multiply(_nodes, -exponent, _factor);
            TensorPrimitives.Exp(_factor, _factor);
            _lastExponent = exponent;
        }
        for (int c = 0; c < RateDerivatives.Length; c++)
        {
            TensorPrimitives.Multiply(_nodes, States[c], _scratch);
            TensorPrimitives.MultiplyAdd(_scratch, -delta, RateDerivatives[c], RateDerivatives[c]);
            TensorPrimitives.Multiply(RateDerivatives[c], _factor, RateDerivatives[c]);
        }
        foreach (var state in States) TensorPrimitives.Multiply(state, _factor, state);
    }

    /// <summary>
    /// <paramref name="count"/> steps at once, each moving on by Δ = <paramref name="delta"/> at rate κ and then
    /// adding amounts[c] to every mode of channel c (a constant-LR stretch whose sources are merged): per mode,
    /// with r = e^(−κ·y·Δ), state' = r^n·state + G·a, G = Σ_{i&lt;n} r^i, and
    /// ∂state'/∂κ = r^n·∂state/∂κ − n·y·Δ·r^n·state − y·Δ·H·a, H = Σ_{i&lt;n} i·r^i. Equal to n calls of
    /// <see cref="Advance"/> and <see cref="Deposit(int, double)"/> up to rounding. The exponentials r and r^n of all
    /// modes are computed at once (vectorised); the sums from them (<see cref="GeometricSums(double, double, double, int)"/>).
    /// </summary>
    public void AdvanceBlock(double delta, double rate, int count, ReadOnlySpan<double> amounts)
    {
        if (amounts.Length != States.Length) throw new ArgumentException($"One amount per channel ({States.Length}) is needed.", nameof(amounts));
        // _factor: x_m = κ·y_m·Δ, then r_m; _scratch: r_m^n.
        TensorPrimitives.Multiply(_nodes, rate * delta, _factor);
        TensorPrimitives.Multiply(_factor, -(double)count, _scratch);
        TensorPrimitives.Exp(_scratch, _scratch);
        TensorPrimitives.Negate(_factor, _blockX);
        TensorPrimitives.Exp(_blockX, _blockX);
        _lastExponent = double.NaN; // _factor no longer holds Advance's factors
        for (int m = 0; m < _nodes.Length; m++)
        {
            double yDelta = _nodes[m] * delta;
            var (power, g, h) = GeometricSums(rate * yDelta, _blockX[m], _scratch[m], count);
            for (int c = 0; c < RateDerivatives.Length; c++)
            {
                RateDerivatives[c][m] = power * RateDerivatives[c][m] - count * yDelta * power * States[c][m] - yDelta * h * amounts[c];
            }
            for (int c = 0; c < States.Length; c++) States[c][m] = power * States[c][m] + g * amounts[c];
        }
    }

    /// <summary>
    /// (r^n, Σ_{i&lt;n} r^i, Σ_{i&lt;n} i·r^i) for r = e^(−x), x ≥ 0, from r and r^n = e^(−n·x) computed beforehand, without
    /// cancellation for small n·x. Below n·x = 0.01 the sums come from their Taylor
    /// series in x; above it from the closed forms, where 1 − r loses at most ε/x ≤ 100·n·ε relative (1e-10 for a block of
    /// 10⁴ steps) and 1 − r^n ≥ 0.00995 loses nothing.
    /// </summary>
    internal static (double Power, double G, double H) GeometricSums(double x, double r, double power, int n)
    {
        double nx = n * x;
        if (nx < 0.01)
        {
            // Σ i^k e^(−ix) by its Taylor series in x (error ~ (n·x)^4/100 relative).
            double m = n;
            double s0 = m, s1 = m * (m - 1) / 2, s2 = (m - 1) * m * (2 * m - 1) / 6, s3 = s1 * s1;
            double s4 = m * (m - 1) * (2 * m - 1) * (3 * m * m - 3 * m - 1) / 30;
            double g = s0 - x * s1 + x * x / 2 * s2 - x * x * x / 6 * s3;
            double h = s1 - x * s2 + x * x / 2 * s3 - x * x * x / 6 * s4;
            return (power, g, h);
        }
        double u = 1 - r;
        double oneMinusPower = 1 - power;
        double gSum = oneMinusPower / u;
        double hSum = (r * oneMinusPower - n * power * u) / (u * u);
        return (power, gSum, hSum);
    }

    /// <summary>Adds the same amount to every mode of a channel (a source whose kernel weights are read out later).</summary>
    public void Deposit(int channel, double amount) => TensorPrimitives.Add(States[channel], amount, States[channel]);

    /// <summary>Adds amount·vector to a channel (a source with its own weight per mode).</summary>
    public void Deposit(int channel, ReadOnlySpan<double> vector, double amount) =>
        TensorPrimitives.MultiplyAdd(vector, amount, States[channel], States[channel]);

    /// <summary>Σ_m weights_m·States[channel]_m.</summary>
    public double Read(int channel, ReadOnlySpan<double> weights) => TensorPrimitives.Dot(weights, States[channel]);

    /// <summary>Σ_m States[channel]_m.</summary>
    public double Sum(int channel) => TensorPrimitives.Sum<double>(States[channel]);

    /// <summary>Σ_m weights_m·RateDerivatives[channel]_m.</summary>
    public double ReadRateDerivative(int channel, ReadOnlySpan<double> weights) => TensorPrimitives.Dot(weights, RateDerivatives[channel]);
}
