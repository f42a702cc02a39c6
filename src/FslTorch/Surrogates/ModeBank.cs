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
    private double _lastExponent = double.NaN;

    public ModeBank(double[] nodes, int channels, int rateChannels)
    {
        _nodes = nodes;
        _factor = new double[nodes.Length];
        _scratch = new double[nodes.Length];
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
