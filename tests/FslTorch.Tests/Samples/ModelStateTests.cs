using FslTorch.Control;
using TinyGpt;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FslTorch.Tests.Samples;

/// <summary>
/// TinyGpt's in-place weight loads (checkpoints) keep the model's own tensors, so the optimizer
/// made on them keeps working. Runs on the device "auto" picks: on a CPU-only machine the contract is checked on the
/// CPU (where TorchSharp's own <c>Module.load</c> also keeps handles); on a GPU machine it is the check that matters.
/// </summary>
[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class ModelStateTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("model-state-");
    private readonly Device _device = TorchDevices.Resolve("auto");

    public void Dispose() => _folder.Delete(recursive: true);

    private GptModel Model(int seed)
    {
        torch.manual_seed(seed);
        var model = new GptModel(new GptConfig(Vocabulary: 32, Layers: 1, Width: 16, Heads: 2, Context: 8));
        model.to(_device);
        return model;
    }

    private static float Step(GptModel model, optim.Optimizer optimizer, int seed)
    {
        using var hold = FinalizerGate.Close(); // see TinyRegression.TrainStep
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var x = randint(0, 32, [4, 8], generator: generator).to(model.parameters().First().device);
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x).view(-1, 32), x.view(-1));
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }

    private static float[] Weights(GptModel model) => [.. model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray())];

    [Fact]
    public void ASavedModelLoadsIntoTheSameTensorsAndAnotherModelsFileIsRefused()
    {
        using var trained = Model(2);
        using var trainedOptimizer = optim.AdamW(trained.parameters(), lr: 1e-2);
        Step(trained, trainedOptimizer, 20);
        string path = Path.Combine(_folder.FullName, "model.bin");
        trained.save(path);

        using var fresh = Model(3);
        using var optimizer = optim.AdamW(fresh.parameters(), lr: 1e-2);
        var handles = fresh.parameters().Select(p => p.Handle).ToArray();
        Assert.NotEqual(Weights(trained), Weights(fresh));
        ModelState.Load(fresh, path);
        Assert.Equal(Weights(trained), Weights(fresh));
        Assert.Equal(handles, fresh.parameters().Select(p => p.Handle).ToArray());
        Assert.True(float.IsFinite(Step(fresh, optimizer, 21)));

        torch.manual_seed(4);
        using var wider = new GptModel(new GptConfig(Vocabulary: 32, Layers: 1, Width: 24, Heads: 2, Context: 8));
        var error = Assert.Throws<InvalidDataException>(() => ModelState.Load(wider, path));
        Assert.Contains("model.bin", error.Message);
        torch.manual_seed(5);
        using var deeper = new GptModel(new GptConfig(Vocabulary: 32, Layers: 2, Width: 16, Heads: 2, Context: 8));
        Assert.Throws<InvalidDataException>(() => ModelState.Load(deeper, path));
    }
}
