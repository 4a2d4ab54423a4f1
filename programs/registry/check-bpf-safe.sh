#!/usr/bin/env bash
# Fails if the program's on-chain sources use constructs that do not link for BPF:
# 128-bit integers, and checked/saturating/overflowing u64 multiplies (lowered to the i128
# libcall __multi3). Use crate::math::mul_u64 instead. The client module (host only) and
# `#[cfg(test)]` modules are exempt: the scan stops at the first `#[cfg(test)]` in each file.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/src"
pattern='\b(u128|i128|checked_mul|saturating_mul|overflowing_mul)\b'
status=0
while IFS= read -r -d '' file; do
    case "$file" in
        "$src/client.rs" | "$src/client/"*) continue ;;
    esac
    if hits="$(awk '/#\[cfg\(test\)\]/ { exit } { print FILENAME ":" FNR ": " $0 }' "$file" \
        | grep -v '^[^:]*:[0-9]*: *//' | grep -E "$pattern")"; then
        echo "$hits"
        status=1
    fi
done < <(find "$src" -name '*.rs' -print0 | sort -z)
if [[ $status -ne 0 ]]; then
    echo "error: BPF-unsafe arithmetic in the program sources above (see math.rs)" >&2
else
    echo "check-bpf-safe: ok"
fi
exit $status
