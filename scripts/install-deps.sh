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
# Already-present pieces are skipped, so running it again is quick. Uses sudo when not root.
set -euo pipefail

sbf=0
browser=0
for arg in "$@"; do
    case "$arg" in
        --sbf) sbf=1 ;;
        --browser) browser=1 ;;
        *) echo "usage: $0 [--sbf] [--browser]" >&2; exit 2 ;;
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
