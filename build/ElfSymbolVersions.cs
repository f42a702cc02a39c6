// Marks symbol-version requirements of a native library as weak when the system cannot satisfy them and
// nothing in the library binds to a symbol of that version.
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and so requires the
// version GLIBCXX_3.4.32 from libstdc++.so.6. Debian 12 ships GCC 12's libstdc++ (up to GLIBCXX_3.4.30), and
// the dynamic loader refuses the whole library. The only symbol of that version is
// std::ios_base_library_init(), which no relocation references, so the requirement is never used at run
// time. Setting VER_FLG_WEAK (0x2) on its Vernaux entry in .gnu.version_r tells the loader that a missing
// version is not fatal (ELF gABI symbol versioning, "Version Needed Section").
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory into the build task (see
// TorchSharpNative.targets), and into the test project with FSLTORCH_NO_MSBUILD defined so that the ELF
// logic is unit-tested without MSBuild.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
#if !FSLTORCH_NO_MSBUILD
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

namespace FslTorch.Build
{
    /// <summary>One version that a library needs from another (an Elf64_Vernaux entry).</summary>
    public sealed class VersionRequirement
    {
        public VersionRequirement(string file, string version, ushort index, ushort flags, long flagsOffset,
            IReadOnlyList<string> symbols, IReadOnlyList<string> relocatedSymbols)
        {
            File = file;
            Version = version;
            Index = index;
            Flags = flags;
            FlagsOffset = flagsOffset;
            Symbols = symbols;
            RelocatedSymbols = relocatedSymbols;
        }

        /// <summary>The library the version is needed from (vn_file), e.g. <c>libstdc++.so.6</c>.</summary>
        public string File { get; }
        /// <summary>The version name (vna_name), e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string Version { get; }
        /// <summary>The version index used by .gnu.version (vna_other).</summary>
        public ushort Index { get; }
        /// <summary>vna_flags.</summary>
        public ushort Flags { get; }
        /// <summary>File offset of vna_flags.</summary>
        public long FlagsOffset { get; }
        /// <summary>Dynamic symbols bound to this version.</summary>
        public IReadOnlyList<string> Symbols { get; }
        /// <summary>Those of <see cref="Symbols"/> that a relocation references (used at run time).</summary>
        public IReadOnlyList<string> RelocatedSymbols { get; }
        /// <summary>Whether VER_FLG_WEAK is set.</summary>
        public bool IsWeak => (Flags & ElfSymbolVersions.VerFlagWeak) != 0;
    }

    /// <summary>Reads and edits GNU symbol-versioning sections of 64-bit little-endian ELF files.</summary>
    public static class ElfSymbolVersions
    {
        public const ushort VerFlagWeak = 0x2;

        private const uint ShtRela = 4;
        private const uint ShtRel = 9;
        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;

        private struct Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
            public long EntrySize;
        }

        /// <summary>Whether the bytes start a 64-bit little-endian ELF image (the only layout handled here).</summary>
        public static bool IsSupported(byte[] image) =>
            image.Length >= 64 && image[0] == 0x7f && image[1] == (byte)'E' && image[2] == (byte)'L' &&
            image[3] == (byte)'F' && image[4] == 2 && image[5] == 1;

        /// <summary>Version names a library defines (.gnu.version_d), e.g. every GLIBCXX_* of libstdc++.</summary>
        public static ISet<string> ReadDefinedVersions(byte[] image)
        {
            var sections = ReadSections(image);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var verdef in sections.Where(s => s.Type == ShtGnuVerdef))
            {
                var strtab = sections[(int)verdef.Link];
                long entry = verdef.Offset;
                for (uint i = 0; i < verdef.Info; i++)
                {
                    // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32
                    uint aux = U32(image, entry + 12);
                    uint next = U32(image, entry + 16);
                    // Elf64_Verdaux: vda_name u32, vda_next u32 (the first aux names the version itself)
                    names.Add(CString(image, strtab.Offset + U32(image, entry + aux)));
                    if (next == 0) break;
                    entry += next;
                }
            }
            return names;
        }

        /// <summary>Every version the library requires (.gnu.version_r), with the symbols bound to each.</summary>
        public static IReadOnlyList<VersionRequirement> ReadRequirements(byte[] image)
        {
            var sections = ReadSections(image);
            var symbolsByVersion = SymbolsByVersionIndex(image, sections, out var relocated);
            var result = new List<VersionRequirement>();
            foreach (var verneed in sections.Where(s => s.Type == ShtGnuVerneed))
            {
                var strtab = sections[(int)verneed.Link];
                long entry = verneed.Offset;
                for (uint i = 0; i < verneed.Info; i++)
                {
                    // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                    ushort count = U16(image, entry + 2);
                    string file = CString(image, strtab.Offset + U32(image, entry + 4));
                    long aux = entry + U32(image, entry + 8);
                    for (int j = 0; j < count; j++)
                    {
                        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                        ushort flags = U16(image, aux + 4);
                        ushort index = U16(image, aux + 6);
                        string name = CString(image, strtab.Offset + U32(image, aux + 8));
                        symbolsByVersion.TryGetValue(index, out var symbols);
                        symbols ??= new List<string>();
                        result.Add(new VersionRequirement(file, name, index, flags, aux + 4, symbols,
                            symbols.Where(relocated.Contains).ToList()));
                        uint nextAux = U32(image, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(image, entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Sets VER_FLG_WEAK on one requirement, in place.</summary>
        public static void MarkWeak(byte[] image, VersionRequirement requirement)
        {
            ushort flags = (ushort)(U16(image, requirement.FlagsOffset) | VerFlagWeak);
            image[requirement.FlagsOffset] = (byte)flags;
            image[requirement.FlagsOffset + 1] = (byte)(flags >> 8);
        }

        /// <summary>
        /// Writes <paramref name="image"/> as the new content of <paramref name="path"/> through a new file that
        /// replaces the old directory entry, never through the old file: an output file that the build
        /// hard-linked (or symlinked) to the package cache then changes alone, and the cache stays as it was.
        /// The new file keeps the old one's permissions and last-write time, so that incremental builds do
        /// not copy the package's original over it again.
        /// </summary>
        public static void ReplaceFile(string path, byte[] image)
        {
            var stamp = System.IO.File.GetLastWriteTimeUtc(path);
            string staging = path + ".fsltorch-tmp";
            System.IO.File.Copy(path, staging, overwrite: true); // a new inode with the old one's permissions
            System.IO.File.WriteAllBytes(staging, image);
            System.IO.File.SetLastWriteTimeUtc(staging, stamp);
            System.IO.File.Delete(path);
            System.IO.File.Move(staging, path);
        }

        private static Dictionary<ushort, List<string>> SymbolsByVersionIndex(byte[] image, List<Section> sections,
            out HashSet<string> relocated)
        {
            var byIndex = new Dictionary<ushort, List<string>>();
            relocated = new HashSet<string>(StringComparer.Ordinal);
            int dynsymIndex = sections.FindIndex(s => s.Type == ShtDynsym);
            if (dynsymIndex < 0) return byIndex;
            var dynsym = sections[dynsymIndex];
            var strtab = sections[(int)dynsym.Link];
            long symbolCount = dynsym.Size / 24;
            string SymbolName(long i) => CString(image, strtab.Offset + U32(image, dynsym.Offset + i * 24));

            foreach (var versym in sections.Where(s => s.Type == ShtGnuVersym))
            {
                for (long i = 0; i < Math.Min(symbolCount, versym.Size / 2); i++)
                {
                    ushort index = (ushort)(U16(image, versym.Offset + i * 2) & 0x7fff);
                    if (index < 2) continue; // local / global: no named version
                    if (!byIndex.TryGetValue(index, out var list)) byIndex[index] = list = new List<string>();
                    list.Add(SymbolName(i));
                }
            }
            foreach (var rel in sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsymIndex))
            {
                long entrySize = rel.EntrySize > 0 ? rel.EntrySize : (rel.Type == ShtRela ? 24 : 16);
                for (long off = rel.Offset; off + entrySize <= rel.Offset + rel.Size; off += entrySize)
                {
                    long symbol = (long)(U64(image, off + 8) >> 32); // r_info = (sym << 32) | type
                    if (symbol > 0 && symbol < symbolCount) relocated.Add(SymbolName(symbol));
                }
            }
            return byIndex;
        }

        private static List<Section> ReadSections(byte[] image)
        {
            if (!IsSupported(image)) throw new InvalidDataException("not a 64-bit little-endian ELF file");
            long shoff = (long)U64(image, 0x28);
            ushort shentsize = U16(image, 0x3A);
            ushort shnum = U16(image, 0x3C);
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                sections.Add(new Section
                {
                    Type = U32(image, h + 4),
                    Offset = (long)U64(image, h + 24),
                    Size = (long)U64(image, h + 32),
                    Link = U32(image, h + 40),
                    Info = U32(image, h + 44),
                    EntrySize = (long)U64(image, h + 56),
                });
            }
            return sections;
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        private static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        private static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;

        private static string CString(byte[] b, long o)
        {
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }

    /// <summary>Where the process's libstdc++ comes from, and which versions it defines.</summary>
    public static class SystemLibStdCxx
    {
        public const string SoName = "libstdc++.so.6";

        /// <summary>
        /// The libstdc++ this process loaded (the .NET runtime links it, so the build process has the same
        /// one an application will get), else the first one on the usual library paths; null if none.
        /// </summary>
        public static string? Locate()
        {
            const string maps = "/proc/self/maps";
            if (System.IO.File.Exists(maps))
            {
                foreach (var line in System.IO.File.ReadLines(maps))
                {
                    int slash = line.IndexOf('/');
                    if (slash >= 0 && line.EndsWith("/" + SoName, StringComparison.Ordinal)) return line.Substring(slash);
                }
            }
            var directories = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
                .Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries)
                .Concat(new[]
                {
                    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                    "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
                });
            return directories.Select(d => Path.Combine(d, SoName)).FirstOrDefault(System.IO.File.Exists);
        }
    }

#if !FSLTORCH_NO_MSBUILD
    /// <summary>
    /// MSBuild task: for each library in <see cref="Libraries"/>, marks weak every version it requires from
    /// libstdc++ that the system libstdc++ lacks, provided no relocation binds a symbol of that version.
    /// Idempotent; never touches a file on a system whose libstdc++ has every required version.
    /// </summary>
    public sealed class WeakenMissingLibStdCxxVersions : Task
    {
        /// <summary>Native libraries to check (copies in an output folder, never the package cache).</summary>
        [Required]
        public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Optional path of the libstdc++ to check against; found automatically when empty.</summary>
        public string LibStdCxxPath { get; set; } = "";

        public override bool Execute()
        {
            if (Libraries.Length == 0) return true;
            string? system = string.IsNullOrEmpty(LibStdCxxPath) ? SystemLibStdCxx.Locate() : LibStdCxxPath;
            if (system == null || !System.IO.File.Exists(system))
            {
                Log.LogMessage(MessageImportance.Normal, "FslTorch: no system libstdc++ found; native libraries left as they are.");
                return true;
            }
            var available = ElfSymbolVersions.ReadDefinedVersions(System.IO.File.ReadAllBytes(system));
            foreach (var item in Libraries)
            {
                string path = item.ItemSpec;
                byte[] image = System.IO.File.ReadAllBytes(path);
                if (!ElfSymbolVersions.IsSupported(image)) continue;
                var missing = ElfSymbolVersions.ReadRequirements(image)
                    .Where(r => r.File == SystemLibStdCxx.SoName && !available.Contains(r.Version))
                    .ToList();
                var toWeaken = missing.Where(r => !r.IsWeak).ToList();
                if (toWeaken.Count == 0)
                {
                    if (missing.Count > 0)
                        Log.LogMessage(MessageImportance.Normal, $"FslTorch: {path} already tolerates the missing libstdc++ versions.");
                    continue;
                }
                var used = toWeaken.Where(r => r.RelocatedSymbols.Count > 0).ToList();
                if (used.Count > 0)
                {
                    Log.LogWarning($"FslTorch: {Path.GetFileName(path)} needs {string.Join(", ", used.Select(r => r.Version))} " +
                        $"from {SystemLibStdCxx.SoName}, which {system} lacks, and uses symbols of it " +
                        $"({string.Join(", ", used.SelectMany(r => r.RelocatedSymbols))}); it was left unchanged and will not load. " +
                        "Install a newer libstdc++ (GCC 13 or later).");
                    continue;
                }
                foreach (var requirement in toWeaken) ElfSymbolVersions.MarkWeak(image, requirement);
                ElfSymbolVersions.ReplaceFile(path, image);
                Log.LogMessage(MessageImportance.High,
                    $"FslTorch: {system} lacks {string.Join(", ", toWeaken.Select(r => r.Version))}; marked that requirement weak in " +
                    $"{path} (only unreferenced symbols use it: {string.Join(", ", toWeaken.SelectMany(r => r.Symbols))}).");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
