using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace TinyGpt;

/// <summary>
/// Tokenised text split into documents, with a held-out set of whole documents spread over the corpus (every
/// k-th document), so the evaluation loss represents all of it, not the tail of one file. Tokens are bytes
/// (vocabulary 256) or cl100k tokens renumbered densely over the ids that occur, so the embedding stays small.
/// </summary>
public sealed partial class TextCorpus
{
    /// <summary>The tokenizers <see cref="Load"/> knows.</summary>
    public static readonly string[] Tokenizers = ["bytes", "cl100k"];

    private TextCorpus(int[] train, int[] heldOut, int vocabularySize, string source, int documents, string? warning)
    {
        Warning = warning;
        Train = train;
        HeldOut = heldOut;
        VocabularySize = vocabularySize;
        Source = source;
        Documents = documents;
    }

    /// <summary>The training tokens.</summary>
    public int[] Train { get; }
    /// <summary>The held-out tokens.</summary>
    public int[] HeldOut { get; }
    /// <summary>Token ids lie in [0, VocabularySize).</summary>
    public int VocabularySize { get; }
    /// <summary>Where the text came from.</summary>
    public string Source { get; }
    /// <summary>How many documents it holds.</summary>
    public int Documents { get; }
    /// <summary>Why the text may not be text (e.g. mostly invalid UTF-8); null when it looks like text.</summary>
    public string? Warning { get; }

    /// <summary>
    /// Loads a UTF-8 file, every file of a folder, or (<paramref name="path"/> null) the XML documentation of the
    /// .NET SDK's reference pack with its markup stripped, and tokenises it with <paramref name="tokenizer"/>
    /// (one of <see cref="Tokenizers"/>). Every <paramref name="holdOutEvery"/>-th document (file, paragraph
    /// of a single file, or XML member) is held out.
    /// </summary>
    /// <exception cref="InvalidDataException">No such file or folder, or too little text.</exception>
    public static TextCorpus Load(string? path, string tokenizer, int minimumTokens, int holdOutEvery = 20)
    {
        Func<string, IReadOnlyList<int>> encode = tokenizer switch
        {
            "bytes" => text => Array.ConvertAll(Encoding.UTF8.GetBytes(text), b => (int)b),
            "cl100k" => Cl100k(),
            _ => throw new ArgumentException($"--tokenizer {tokenizer}: expected {string.Join(" or ", Tokenizers)}."),
        };
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
        var tokens = documents.Select(d => encode(d + "\n")).ToList();
        // Invalid UTF-8 reads as U+FFFD; binary data also brings control characters. Training goes on, with a warning.
        long characters = documents.Sum(d => (long)d.Length);
        long odd = documents.Sum(d => (long)d.Count(c => c == '\uFFFD' || (char.IsControl(c) && c is not ('\n' or '\r' or '\t' or '\f'))));
        string? warning = characters > 0 && odd > 0.01 * characters
            ? string.Create(CultureInfo.InvariantCulture, $"{source}: {(double)odd / characters:P1} of the characters are invalid UTF-8 or control characters; is it text? Training on it anyway.")
            : null;
        int vocabulary = 256;
        if (tokenizer != "bytes")
        {
            // Renumber the ids that occur densely, in the order of the original ids.
            var used = tokens.SelectMany(t => t).Distinct().Order().ToArray();
            var dense = used.Select((id, index) => (id, index)).ToDictionary(p => p.id, p => p.index);
            tokens = tokens.Select(t => (IReadOnlyList<int>)t.Select(id => dense[id]).ToArray()).ToList();
            vocabulary = Math.Max(1, used.Length);
        }
        var train = new List<int>();
        var heldOut = new List<int>();
        for (int i = 0; i < tokens.Count; i++)
        {
            (i % holdOutEvery == holdOutEvery / 2 ? heldOut : train).AddRange(tokens[i]);
        }
        if (heldOut.Count == 0 && train.Count > 0)
        {
            // Too few documents for a held-out one: hold out the last tenth of the text instead.
            int cut = train.Count * 9 / 10;
            heldOut.AddRange(train.Skip(cut));
            train.RemoveRange(cut, train.Count - cut);
        }
        if (train.Count < minimumTokens || heldOut.Count < minimumTokens / 10)
        {
            throw new InvalidDataException($"{source}: {train.Count + heldOut.Count} tokens of text is too little; at least {minimumTokens + minimumTokens / 10} are needed for this context and batch.");
        }
        return new TextCorpus(train.ToArray(), heldOut.ToArray(), vocabulary, source, documents.Count, warning);
    }

    private static Func<string, IReadOnlyList<int>> Cl100k()
    {
        var cl100k = TiktokenTokenizer.CreateForEncoding("cl100k_base");
        return text => cl100k.EncodeToIds(text);
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
