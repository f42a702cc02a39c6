#!/bin/bash
# On the GPU machine: unpacks a bundle made by pack.sh into <folder> and links the machine's PyTorch libtorch in place
# of the one taken out. Then, in the same shell:
#   source <folder>/env.sh
#   dotnet <folder>/app/TinyGpt.dll --device cuda            (or <folder>/app/tinygpt-evidence.dll live ...)
# TorchSharp 0.107 is built for LibTorch 2.10; another version (PyTorch 2.11 was used) loaded and trained TinyGpt
# correctly, but it is a stand-in for TorchSharp-cuda-linux, not a setup to recommend.
set -euo pipefail
bundle=${1:?usage: unpack.sh <bundle.tar.xz> <folder>}
folder=$(realpath -m "${2:?usage: unpack.sh <bundle.tar.xz> <folder>}")
mkdir -p "$folder"
tar -C "$folder" -xJf "$bundle"
lib=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
native="$folder/app/runtimes/linux-x64/native"
# The tools' dependency manifest names every libtorch file: a link where PyTorch has it, an empty file where not.
while read -r f; do
  if [ -e "$lib/$f" ]; then ln -sf "$lib/$f" "$native/$f"; else : > "$native/$f"; fi
done < "$folder/stripped.txt"
cat > "$folder/env.sh" <<ENV
export DOTNET_ROOT="$folder/dotnet"
export PATH="$folder/dotnet:\$PATH"
export LD_LIBRARY_PATH="$lib:\${LD_LIBRARY_PATH:-}"
ENV
echo "unpacked into $folder; PyTorch's libtorch: $lib"
