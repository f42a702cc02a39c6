using FslTorch.Control;
using TorchSharp;
using static TorchSharp.torch;

namespace FslTorch.Tests.Control;

/// <summary>A tiny MLP regression task whose batch at step k depends on k alone, so runs can be replayed.</summary>
internal static class TinyRegression
{
    public const int Inputs = 8;
    public const int BatchSize = 32;

    public static nn.Module<Tensor, Tensor> CreateModel(long seed)
    {
        torch.manual_seed(seed);
        return nn.Sequential(nn.Linear(Inputs, 16), nn.Tanh(), nn.Linear(16, 1));
    }

    public static (Tensor X, Tensor Y) Batch(long step)
    {
        var random = new Random(1000 + (int)step);
        var x = new float[BatchSize * Inputs];
        var y = new float[BatchSize];
        for (int b = 0; b < BatchSize; b++)
        {
            float target = 0;
            for (int i = 0; i < Inputs; i++)
            {
                float v = (float)(random.NextDouble() * 2 - 1);
                x[b * Inputs + i] = v;
                target += (i % 3 - 1) * v;
            }
            y[b] = MathF.Sin(target);
        }
        return (tensor(x, [BatchSize, Inputs]), tensor(y, [BatchSize, 1]));
    }

    /// <summary>
    /// One forward/backward/optimizer step; returns the loss. The finalizer thread is held for the step
    /// (<see cref="FinalizerGate"/>) unless <paramref name="holdFinalizers"/> is false: the test runner's own threads
    /// allocate while the step is in native code, and with TorchSharp 0.107 a collection they start can free the step's
    /// implicit scalars under it (a resume test aborted once in <c>c10::Scalar::toFloat</c> that way).
    /// </summary>
    public static double TrainStep(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, long step, bool holdFinalizers = true)
    {
        using var hold = holdFinalizers ? FinalizerGate.Close() : null;
        using var scope = NewDisposeScope();
        var (x, y) = Batch(step);
        optimizer.zero_grad();
        var loss = nn.functional.mse_loss(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }
}
