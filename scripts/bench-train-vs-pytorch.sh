#!/usr/bin/env bash
# `coalition bench train` against PyTorch on the same shapes and threads, interleaved in one run
# (dev profile, release profile, PyTorch; REPEATS times), so that machine noise hits all three.
#
#   PYTHON=venv/bin/python bash scripts/bench-train-vs-pytorch.sh [REPEATS] [STEPS]
#
# Needs a Python with torch and transformers (PYTHON, default python3). Builds the
# coalition-model example `bench_train` in both profiles first (release compiles only candle and
# the model crate). Prints every JSON line, then the median steps/s per implementation and shape.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-3}"
steps="${2:-20}"
python="${PYTHON:-python3}"
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
cargo build -q -p coalition-model --example bench_train
cargo build -q --release -p coalition-model --example bench_train
target="${CARGO_TARGET_DIR:-target}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for _ in $(seq "$repeats"); do
    "$target/debug/examples/bench_train" "$steps" 2 | tee -a "$out"
    "$target/release/examples/bench_train" "$steps" 2 | tee -a "$out"
    "$python" scripts/bench_pytorch.py --steps "$steps" --warmup 2 | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def who(r): return r.get("impl") or f"coalition {r['profile']}"
table = {}
for r in rows:
    table.setdefault((r["model"], who(r)), []).append(r["steps_per_s"])
print(f"\nmedian steps/s over {sys.argv[1] and len(rows)//6} interleaved repeats, "
      f"{rows[0]['threads']} threads")
for model in sorted({m for m, _ in table}):
    torch = statistics.median(next(v for (m, w), v in table.items() if m == model and w.startswith("pytorch")))
    for (m, w), v in sorted(table.items()):
        if m == model:
            med = statistics.median(v)
            print(f"  {m:40s} {w:28s} {med:9.2f}  {med / torch:5.2f}x PyTorch")
PY
