using Xunit;

namespace FslTorch.Tests.TestSupport;

/// <summary>
/// Tests that train with TorchSharp run alone, never beside other tests: with TorchSharp 0.107 a garbage
/// collection started by another thread during a native call can free that call's scalar argument and crash
/// the test process (see ForecasterOptions.Background).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchSharpCollection
{
    public const string Name = "TorchSharp training";
}
