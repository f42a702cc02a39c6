using OxyPlot;

namespace FslTorch.Cli;

/// <summary>Writes an OxyPlot model as an SVG file, whole or not at all (the pictures of <c>fsl plot</c> and <c>fsl theory</c>).</summary>
internal static class SvgPicture
{
    public static void Write(PlotModel model, string path, int width, int height)
    {
        using var stream = new MemoryStream();
        // Renderers that ignore SVG's baseline attributes (librsvg, some browsers) place text as it was measured.
        new SvgExporter { Width = width, Height = height, UseVerticalTextAlignmentWorkaround = true, TextMeasurer = new SvgTextMeasurer() }.Export(model, stream);
        AtomicFile.WriteAllBytes(path, stream.ToArray());
    }
}
