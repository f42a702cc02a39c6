using TorchSharp;

namespace FslTorch.Control;

/// <summary>Picks the device a run uses.</summary>
public static class TorchDevices
{
    /// <summary>
    /// "auto" (or null/empty) gives CUDA when <c>torch.cuda.is_available()</c> and the CPU otherwise; "cpu",
    /// "cuda" and "cuda:N" are taken as asked, and asking for CUDA where it is not available throws.
    /// </summary>
    public static torch.Device Resolve(string? requested)
    {
        string name = string.IsNullOrWhiteSpace(requested) ? "auto" : requested.Trim().ToLowerInvariant();
        if (name == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (name == "cpu") return torch.CPU;
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
            {
                throw new ArgumentException(
                    "CUDA was requested but is not available: build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU, or use 'cpu'.",
                    nameof(requested));
            }
            return torch.device(name);
        }
        throw new ArgumentException($"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got '{requested}'.", nameof(requested));
    }
}
