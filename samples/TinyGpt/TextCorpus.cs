using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace TinyGpt;

/// <summary>
/// Byte-level text split into documents, with a held-out set of whole documents spread over the corpus (every
/// k-th document), so the evaluation loss represents all of it, not the tail of one file.
/// </summary>
public sealed partial class TextCorpus
{
    private TextCorpus(byte[] train, byte[] heldOut, string source, int documents)
    {
        Train = train;
        HeldOut = heldOut;
        Source = source;
        Documents = documents;
    }

    /// <summary>The training bytes.</summary>
    public byte[] Train { get; }
    /// <summary>The held-out bytes.</summary>
    public byte[] HeldOut { get; }
    /// <summary>Where the text came from.</summary>
    public string Source { get; }
    /// <summary>How many documents it holds.</summary>
    public int Documents { get; }

    /// <summary>
    /// Loads a UTF-8 file, every file of a folder, or (<paramref name="path"/> null) the XML documentation of the
    /// .NET SDK's reference pack with its markup stripped. Every <paramref name="holdOutEvery"/>-th document
    /// (file, or XML member) is held out.
    /// </summary>
    /// <exception cref="InvalidDataException">No such file or folder, or too little text.</exception>
    public static TextCorpus Load(string? path, int minimumBytes, int holdOutEvery = 20)
    {
        List<string> documents;
        string source;
        if (path == null)
        {
            string packs = Path.Combine(DotnetRoot(), "packs", "Microsoft.NETCore.App.Ref");
            var files = Directory.Exists(packs)
                ? Directory.EnumerateFiles(packs, "*.xml", SearchOption.AllDirectories).Where(f => f.Contains($"{Path.DirectorySeparatorChar}ref{Path.DirectorySeparatorChar}")).Order(StringComparer.Ordinal).ToList()
                : [];
            if (files.Count == 0) throw new InvalidDataException($"No .NET reference-pack documentation under {packs}; pass --data <file or folder>.");
            // One document per documented member: split on <member>, strip tags, decode entities.
            documents = files.SelectMany(f => MemberPattern().Split(File.ReadAllText(f)).Skip(1))
                .Select(Clean).Where(d => d.Length > 20).ToList();
            source = $"{files.Count} XML documentation files of the .NET reference pack";
        }
        else if (Directory.Exists(path))
        {
            documents = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .Select(f => File.ReadAllText(f)).Where(t => t.Length > 0).ToList();
            source = path;
        }
        else if (File.Exists(path))
        {
            // One file: paragraphs (blank-line separated) are the documents.
            documents = Regex.Split(File.ReadAllText(path), @"\n\s*\n").Where(d => d.Trim().Length > 0).ToList();
            source = path;
        }
        else
        {
            throw new InvalidDataException($"--data {path}: no such file or folder.");
        }
        var train = new List<byte>();
        var heldOut = new List<byte>();
        for (int i = 0; i < documents.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(documents[i] + "\n");
            (i % holdOutEvery == holdOutEvery / 2 ? heldOut : train).AddRange(bytes);
        }
        if (heldOut.Count == 0 && train.Count > 0)
        {
            // Too few documents for a held-out one: hold out the last tenth of the text instead.
            int cut = train.Count * 9 / 10;
            heldOut.AddRange(train.Skip(cut));
            train.RemoveRange(cut, train.Count - cut);
        }
        if (train.Count < minimumBytes || heldOut.Count < minimumBytes / 10)
        {
            throw new InvalidDataException($"{source}: {train.Count + heldOut.Count} bytes of text is too little; at least {minimumBytes + minimumBytes / 10} are needed for this context and batch.");
        }
        return new TextCorpus(train.ToArray(), heldOut.ToArray(), source, documents.Count);
    }

    private static string Clean(string xml) =>
        Whitespace().Replace(WebUtility.HtmlDecode(Tag().Replace(xml, " ")), " ").Trim();

    // <dotnet root>/shared/Microsoft.NETCore.App/<version>/ is the runtime directory.
    private static string DotnetRoot() => Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    [GeneratedRegex("<member ")]
    private static partial Regex MemberPattern();

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
