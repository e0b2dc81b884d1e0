"""benchmarks/bench.py end to end on the tiny model at small sizes, verdict-suite runs included."""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REQUIRED_KEYS = (
    "capture_overhead", "capture_overhead_vs_default_sampling", "batch_speedup", "warm_fraction",
    "workers_speedup", "peak_rss_mb", "peak_rss_children_mb", "model_mb", "capture_batch_mb",
    "rss_budget_mb", "bytes_per_value",
)


def test_bench_prints_finite_json(tmp_path):
    json_path = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--model", "tiny", "--quick",
            "--duration", "0.1", "--batch", "2", "--repeats", "1", "--verdict-duration", "0.1",
            "--json", str(json_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    lines = completed.stdout.strip().splitlines()
    assert "capture_overhead" in completed.stdout.split(lines[-1])[0], "the table is missing"
    result = json.loads(lines[-1])
    assert json.loads(json_path.read_text()) == result

    for key in REQUIRED_KEYS:
        assert key in result, f"missing key {key}"
        assert isinstance(result[key], (int, float)), f"{key} is {result[key]!r}, not a number"
        assert math.isfinite(result[key]), f"{key} is {result[key]}"
        assert result[key] > 0, f"{key} is {result[key]}"

    assert result["verdict_generated_cold"] == 8
    assert result["verdict_generated_warm"] == 0
    assert result["stored_dtypes"]["decoder.resid_post"] == "<f2"
