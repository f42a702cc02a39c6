using System.Text;

namespace FslTorch;

/// <summary>
/// Files written whole or not at all: the text goes to a temporary file beside the target, is flushed to disk, and
/// is renamed over the target. A process killed at any moment leaves the old file or the new one, never a torn one.
/// Each write has a temporary file of its own, so writers of one target in several threads or processes (a benchmark's
/// processes sharing a results folder) each leave a whole file and the last rename wins. The library's state and
/// parameter files are written this way; the samples and tools use it for theirs.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            // The write's own error is the one to report: a temporary file that cannot be removed (its folder gone,
            // say) adds nothing to it.
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            throw;
        }
    }
}
