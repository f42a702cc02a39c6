using System.Text.Json;
using System.Text.Json.Nodes;
using TinyGpt;
using TorchSharp;
using Xunit;

namespace FslTorch.Tests.Samples;

/// <summary>TinyGpt's optimisation recipe: the residual initialisation, the presets, and runs made before it.</summary>
[Collection(TestSupport.TorchSharpCollection.Name)]
public sealed class TinyGptRecipeTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tinygpt-recipe-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static Dictionary<string, double> Spreads(bool scaled)
    {
        torch.manual_seed(3);
        using var model = new GptModel(new GptConfig(Vocabulary: 64, Layers: 4, Width: 64, Heads: 4, Context: 16, ScaledResidualInit: scaled));
        return model.named_parameters().Where(p => p.parameter.dim() == 2).ToDictionary(p => p.name, p => (double)p.parameter.std().item<float>());
    }

    [Fact]
    public void TheScaledInitShrinksTheTwoProjectionsIntoTheResidualStreamOfEveryBlockAndNothingElse()
    {
        var plain = Spreads(scaled: false);
        var scaled = Spreads(scaled: true);
        double residualSpread = 0.02 / Math.Sqrt(2 * 4);
        int residual = 0;
        foreach (var (name, spread) in scaled)
        {
            bool writesTheStream = name.EndsWith("projection.weight", StringComparison.Ordinal) || name.EndsWith("down.weight", StringComparison.Ordinal);
            if (writesTheStream) residual++;
            double expected = writesTheStream ? residualSpread : 0.02;
            Assert.InRange(spread, 0.9 * expected, 1.1 * expected);
            Assert.InRange(plain[name], 0.018, 0.022);
        }
        Assert.Equal(2 * 4, residual);
    }

    [Fact]
    public void EveryPresetHasTheRecipeAndARunWrittenBeforeItResumesWithoutIt()
    {
        foreach (string preset in new[] { "tiny", "small", "medium" })
        {
            var settings = Settings.Preset(preset);
            Assert.Equal((0.99, 1.0, true), (settings.Beta2, settings.GradientClip, settings.ScaledResidualInit));
        }
        var small = Settings.Preset("small");
        Assert.Equal(4096, small.Batch * small.Context);

        // A config.json from before the recipe has none of its fields: it meant β2 0.95, no clipping, plain init.
        var old = JsonNode.Parse(JsonSerializer.Serialize(small with { Out = _folder.FullName }))!.AsObject();
        foreach (string field in new[] { "Beta2", "GradientClip", "ScaledResidualInit", "WarmupSteps" }) Assert.True(old.Remove(field), field);
        File.WriteAllText(Path.Combine(_folder.FullName, "config.json"), old.ToJsonString());
        var resumed = RunFolder.ReadConfig(_folder.FullName);
        Assert.Equal((0.95, 0.0, false), (resumed.Beta2, resumed.GradientClip, resumed.ScaledResidualInit));
        Assert.Null(resumed.WarmupSteps);
        Assert.Equal((long)(resumed.WarmupFraction * resumed.Steps), RunSchedule.WarmupSteps(resumed));
        Assert.Equal(small.Width, resumed.Width);
    }

    [Theory]
    [InlineData(1.0, 0.0, "--beta2")]
    [InlineData(0.0, 0.0, "--beta2")]
    [InlineData(0.99, -1.0, "--clip")]
    [InlineData(0.99, double.PositiveInfinity, "--clip")]
    public void AnOptimiserSettingNoRunCanUseIsRefusedByName(double beta2, double clip, string flag)
    {
        var settings = Settings.Preset("tiny") with { Beta2 = beta2, GradientClip = clip };
        var error = Assert.Throws<ArgumentException>(settings.Validate);
        Assert.StartsWith(flag, error.Message);
    }

    [Fact]
    public void RefitsRunInTheBackgroundOnACudaDeviceByDefaultAndInlineOnTheCpu()
    {
        var settings = Settings.Preset("tiny");
        Assert.Equal("auto", settings.BackgroundRefits);
        var cpu = new TorchSharp.torch.Device(TorchSharp.DeviceType.CPU);
        var cuda = new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, 0);
        Assert.False(RunSchedule.BackgroundRefits(settings, cpu));
        Assert.True(RunSchedule.BackgroundRefits(settings, cuda));
        Assert.True(RunSchedule.BackgroundRefits(settings with { BackgroundRefits = "on" }, cpu));
        Assert.False(RunSchedule.BackgroundRefits(settings with { BackgroundRefits = "off" }, cuda));
        Assert.True(RunSchedule.MonitorOptions(settings, background: true).Forecaster.Background);
        Assert.False(RunSchedule.MonitorOptions(settings).Forecaster.Background);
        var error = Assert.Throws<ArgumentException>((settings with { BackgroundRefits = "yes" }).Validate);
        Assert.StartsWith("--background-refits", error.Message);
    }
}
