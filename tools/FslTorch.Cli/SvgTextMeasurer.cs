using OxyPlot;

namespace FslTorch.Cli;

/// <summary>
/// Measures text for OxyPlot's SVG writer. Its default measurer reads Helvetica's metrics in points, and the SVG is
/// laid out in pixels: every text came out 3/4 as wide and high as drawn, so legends were clipped. This one scales
/// the measured size to pixels, with 5% to spare for sans-serif fonts a little wider than Helvetica. It only measures;
/// the SVG writer draws.
/// </summary>
internal sealed class SvgTextMeasurer : RenderContextBase
{
    private const double PointsToPixels = 96.0 / 72.0, Spare = 1.05;

#pragma warning disable CS0618 // OxyPlot marks its PDF context obsolete for drawing PDFs; its font metrics are what the SVG writer measures with.
    private readonly PdfRenderContext _metrics = new(100, 100, OxyColors.Undefined);
#pragma warning restore CS0618

    public override OxySize MeasureText(string text, string fontFamily = null!, double fontSize = 10, double fontWeight = 500)
    {
        var size = _metrics.MeasureText(text, fontFamily, fontSize, fontWeight);
        return new OxySize(size.Width * PointsToPixels * Spare, size.Height * PointsToPixels);
    }

    public override void DrawText(ScreenPoint p, string text, OxyColor fill, string fontFamily, double fontSize, double fontWeight, double rotation,
        HorizontalAlignment halign, VerticalAlignment valign, OxySize? maxSize) => throw Drawing();

    public override void DrawLine(IList<ScreenPoint> points, OxyColor stroke, double thickness, EdgeRenderingMode edgeRenderingMode, double[] dashArray, LineJoin lineJoin) =>
        throw Drawing();

    public override void DrawPolygon(IList<ScreenPoint> points, OxyColor fill, OxyColor stroke, double thickness, EdgeRenderingMode edgeRenderingMode, double[] dashArray,
        LineJoin lineJoin) => throw Drawing();

    public override int ClipCount => 0;

    public override void PushClip(OxyRect clippingRectangle) => throw Drawing();

    public override void PopClip() => throw Drawing();

    private static NotSupportedException Drawing() => new("This context only measures text.");
}
