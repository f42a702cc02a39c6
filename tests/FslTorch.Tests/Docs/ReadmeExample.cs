using FslTorch.Control;
using FslTorch.Schedules;
using TorchSharp;

namespace FslTorch.Tests.Docs;

/// <summary>The README's usage example, compiled here; <see cref="ReadmeTests"/> checks the two stay identical.</summary>
internal static class ReadmeExample
{
    public static (double FirstLoss, double LastLoss, double LastLearningRate) Run()
    {
        double first = double.NaN, last = double.NaN;
        // README:begin
        var model = torch.nn.Linear(16, 1);
        var optimizer = torch.optim.AdamW(model.parameters(), lr: 3e-4);
        // The one line that replaces your scheduler: 100 warmup steps, then stable, then a linear cooldown over the last 20%.
        var scheduler = new FslScheduler(optimizer, Schedule.Wsd(3e-4, warmupSteps: 100, decayStartStep: 800, totalSteps: 1000));
        for (int step = 0; step < 1000; step++)
        {
            using var scope = torch.NewDisposeScope();
            var loss = (model.call(torch.randn(32, 16)) - 1).pow(2).mean();
            optimizer.zero_grad(); loss.backward(); optimizer.step();
            scheduler.step();
            // README:end
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        return (first, last, optimizer.ParamGroups.Single().LearningRate);
    }
}
