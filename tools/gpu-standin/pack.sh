#!/bin/bash
# Packs TinyGpt and tinygpt-evidence for a Linux GPU machine that has PyTorch (with CUDA) but no .NET and no
# TorchSharp-cuda-linux package: the "stand-in" of README's Build notes. Run it here, from the repository root:
#   bash tools/gpu-standin/pack.sh <bundle.tar.xz> [<folder of extra corpus files, e.g. sotu>]
# The bundle holds the published tools without libtorch (unpack.sh links PyTorch's libraries in their place), the
# .NET runtime this machine runs, and the reference pack's XML documentation (TinyGpt's default corpus).
set -euo pipefail
out=$(realpath -m "${1:?usage: pack.sh <bundle.tar.xz> [corpus folder]}")
corpus=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish tools/TinyGptEvidence -c Release -o "$work/app" >/dev/null
native="$work/app/runtimes/linux-x64/native"
# Keep TorchSharp's own native library and SkiaSharp's; every other file there is libtorch's.
(cd "$native" && ls | grep -v -e '^libLibTorchSharp\.so$' -e '^libSkiaSharp\.so$' -e '^libHarfBuzzSharp\.so$' > "$work/stripped.txt")
while read -r f; do rm "$native/$f"; done < "$work/stripped.txt"
find "$work/app/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
version=$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}')
mkdir -p "$work/dotnet/shared/Microsoft.NETCore.App" "$work/dotnet/host" "$work/dotnet/packs/Microsoft.NETCore.App.Ref"
cp "$root/dotnet" "$work/dotnet/"
cp -r "$root/host/fxr" "$work/dotnet/host/"
cp -r "$root/shared/Microsoft.NETCore.App/$version" "$work/dotnet/shared/Microsoft.NETCore.App/"
ref=$(ls -d "$root"/packs/Microsoft.NETCore.App.Ref/*/ref/net* | tail -1)
target="$work/dotnet/packs/Microsoft.NETCore.App.Ref/${ref#"$root"/packs/Microsoft.NETCore.App.Ref/}"
mkdir -p "$target" && cp "$ref"/*.xml "$target/"
items=(app dotnet stripped.txt)
if [ -n "$corpus" ]; then cp -r "$corpus" "$work/corpus"; items+=(corpus); fi
tar -C "$work" -cf - "${items[@]}" | xz -T2 -6 > "$out"
echo "$out: $(du -h "$out" | cut -f1) (.NET $version)"
