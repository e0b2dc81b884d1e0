#!/usr/bin/env bash
# Run the benchmark on a CUDA GPU in float16 and keep its output.
#
# Usage, from anywhere:  benchmarks/gpu.sh [extra bench.py options]
# PYTHON selects the interpreter (default: .venv/bin/python in the repository root). It needs a
# CUDA build of torch, because the project's CPU venv (torch +cpu) cannot see a GPU and bench.py
# then exits with a message saying so. The JSON line goes to $OUT/bench-gpu.json and the full
# output to $OUT/bench-gpu.txt when OUT is set, else to the current directory.
#
# NOTE: this script has not been run on a GPU yet.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out_dir="${OUT:-.}"
mkdir -p "$out_dir"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

"$python" "$root/benchmarks/bench.py" --device cuda --dtype float16 --quick \
    --json "$out_dir/bench-gpu.json" "$@" 2>&1 | tee "$out_dir/bench-gpu.txt"
