#!/usr/bin/env bash
# Builds the registry program to an SBF ELF offline, without Solana's platform tools:
# Debian's rustc-web (with prebuilt core/alloc for bpfel-unknown-none) + LLVM 22 + sbpf-linker.
#
# It installs nothing. Missing pieces are reported with the command that installs them:
#   apt-get install -y rustc-web libstd-rust-web-dev-bpf llvm-22-dev
#   LLVM_PREFIX=/usr/lib/llvm-22 cargo install sbpf-linker@0.2.6 --locked \
#       --no-default-features --features bpf-linker/llvm-22
#
# Output: programs/registry/dist/coalition_registry.so and its sha256 next to it.
# With Solana's platform tools installed you can instead run `cargo build-sbf` in this directory.
#
# Environment: SBF_TARGET_DIR (default ~/.cache/coalition/target-sbf) is the cargo target dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
target_dir="${SBF_TARGET_DIR:-$HOME/.cache/coalition/target-sbf}"
rustc_bin=/usr/bin/rustc
llvm_prefix=/usr/lib/llvm-22

missing=0
if [[ ! -x $rustc_bin ]] || ! $rustc_bin --version 2>/dev/null | grep -q '^rustc'; then
    echo "missing: $rustc_bin (Debian package rustc-web): apt-get install -y rustc-web" >&2
    missing=1
elif ! $rustc_bin --print sysroot >/dev/null 2>&1 \
    || [[ ! -d "$($rustc_bin --print sysroot)/lib/rustlib/bpfel-unknown-none/lib" ]]; then
    echo "missing: core/alloc for bpfel-unknown-none: apt-get install -y libstd-rust-web-dev-bpf" >&2
    missing=1
fi
if [[ ! -d $llvm_prefix/lib ]] || ! ls "$llvm_prefix"/lib/libLLVM*.so* >/dev/null 2>&1; then
    echo "missing: LLVM 22 ($llvm_prefix): apt-get install -y llvm-22-dev" >&2
    missing=1
fi
linker="$(command -v sbpf-linker || true)"
if [[ -z $linker && -x $HOME/.cargo/bin/sbpf-linker ]]; then
    linker="$HOME/.cargo/bin/sbpf-linker"
fi
if [[ -z $linker ]]; then
    echo "missing: sbpf-linker 0.2.6: LLVM_PREFIX=$llvm_prefix cargo install sbpf-linker@0.2.6 --locked --no-default-features --features bpf-linker/llvm-22" >&2
    missing=1
elif ! "$linker" --version 2>/dev/null | grep -q '0\.2\.6'; then
    echo "warning: $linker is not sbpf-linker 0.2.6 ($("$linker" --version 2>&1 | head -1)); the ELF may differ from the committed one" >&2
fi
if [[ $missing -ne 0 ]]; then
    echo "the offline SBF route is not installed (see above); users of Solana's platform tools can run 'cargo build-sbf' in $here instead" >&2
    exit 1
fi

# The release profile for this build only: fat LTO, one codegen unit, no overflow checks, no
# debug info. The workspace's own profiles are left alone.
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=false
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_PROFILE_RELEASE_STRIP=false
export CARGO_PROFILE_RELEASE_PANIC=abort
export RUSTC=$rustc_bin
export CARGO_TARGET_BPFEL_UNKNOWN_NONE_LINKER="$linker"
export CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS="-C panic=abort -C relocation-model=static -C link-arg=--llvm-args=-bpf-stack-size=4096 -C link-arg=--arch=v0 -C link-arg=--disable-math-builtins"
# Host flags (e.g. a workspace target-cpu setting) must not leak into the BPF build.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

cd "$workspace"
"$here/check-bpf-safe.sh"
cargo build --release --target bpfel-unknown-none --lib -p coalition-registry \
    --target-dir "$target_dir"

elf="$target_dir/bpfel-unknown-none/release/libcoalition_registry.so"
if [[ ! -f $elf ]]; then
    echo "build finished but $elf is missing" >&2
    exit 1
fi
mkdir -p "$here/dist"
cp "$elf" "$here/dist/coalition_registry.so"
(cd "$here/dist" && sha256sum coalition_registry.so > coalition_registry.so.sha256)
echo "built $here/dist/coalition_registry.so ($(stat -c %s "$here/dist/coalition_registry.so") bytes)"
cat "$here/dist/coalition_registry.so.sha256"
