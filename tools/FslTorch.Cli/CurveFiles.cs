using FslTorch.Fitting;

namespace FslTorch.Cli;

/// <summary>Loss curves from any trainer: step,lr,loss CSV, JSON Lines, trainer_state.json or TensorBoard events (<see cref="LogFormats"/>).</summary>
internal static class CurveFiles
{
    /// <summary>
    /// Reads a curve; the LR of steps between logged rows is interpolated linearly (exact when every step is
    /// logged). <paramref name="fromStep"/> drops earlier points; <paramref name="bin"/> &gt; 1 averages the
    /// losses of each window [j·N, (j+1)·N) into one point at the window's mean step.
    /// </summary>
    public static ObservedCurve Load(string path, int fromStep, int bin, LogFormats? formats = null)
    {
        if (bin < 1) throw new ArgumentException($"--bin must be >= 1; got {bin}.");
        if (fromStep < 0) throw new ArgumentException($"--from-step must be >= 0; got {fromStep}.");
        var curve = (formats ?? LogFormats.Default).Load(path, message => Console.Error.WriteLine($"fsl: note: {message}"))
            .Where(step => step >= fromStep);
        if (curve.Count == 0) throw new InvalidDataException($"{path}: no points at or after step {fromStep}.");
        return bin > 1 ? Bin(curve, bin) : curve;
    }

    /// <summary>
    /// Refuses an output file that cannot be written (no permission, a file where its folder should be) before any
    /// work is done; creates its folder, leaves no file behind.
    /// </summary>
    public static void CheckWritable(string? path, string option)
    {
        if (path == null) return;
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        if (Directory.Exists(full)) throw new IOException($"{option} {path}: that is a folder, not a file.");
        bool existed = File.Exists(full);
        try
        {
            if (folder != null) Directory.CreateDirectory(folder);
            using (File.Open(full, FileMode.OpenOrCreate, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} {path}: cannot be written ({e.Message}).", e);
        }
        if (!existed) File.Delete(full);
    }

    public static ObservedCurve Bin(ObservedCurve curve, int bin)
    {
        var windows = Enumerable.Range(0, curve.Count).GroupBy(i => curve.Steps[i] / bin).ToList();
        var steps = windows.Select(w => (int)Math.Round(w.Average(i => (double)curve.Steps[i]))).ToList();
        var losses = windows.Select(w => w.Average(i => curve.Losses[i])).ToList();
        return new ObservedCurve(curve.Name, curve.Schedule, steps, losses);
    }
}
