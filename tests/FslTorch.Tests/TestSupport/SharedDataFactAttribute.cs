using Xunit;

namespace FslTorch.Tests.TestSupport;

/// <summary>A fact that is skipped, with the reason, when ../shared/data is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (!SharedData.IsPresent) Skip = SharedData.MissingReason;
    }
}
