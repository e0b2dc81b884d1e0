"""Benchmark capture speed, batching, the run store and pytest-xdist workers against plain generate.

Run from the repository root::

    .venv/bin/python benchmarks/bench.py --quick                 # musicgen-small architecture, random weights
    .venv/bin/python benchmarks/bench.py --model tiny --quick    # seconds, for tests
    .venv/bin/python benchmarks/bench.py --device cuda --dtype float16

The script prints a table of each measured ratio next to its target and, as its last line, one
JSON object with every measurement. Each batched time is the median of ``--repeats`` runs after
one warm-up run, and the one-prompt-at-a-time loop time is the median of ``--loop-repeats``
passes. The timings it compares run back to back in one process, so that a change in machine
load affects both sides of a ratio alike. The verdict-suite timings run the suite in
subprocesses, one after another, before this process loads a model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from emotion_hypotheses.capture import names  # noqa: E402
from emotion_hypotheses.capture.codes import steps_for_frames  # noqa: E402
from emotion_hypotheses.capture.engine import (  # noqa: E402
    CaptureRequest,
    CaptureSpec,
    GenerationParams,
    capture_batch,
    greedy_config,
)
from emotion_hypotheses.capture.sampler import SeededSampler  # noqa: E402
from emotion_hypotheses.models.loading import LoadedModel, load_musicgen  # noqa: E402
from emotion_hypotheses.prompts import load_prompt_set, resolve_prompt_set  # noqa: E402
from emotion_hypotheses.store import ARRAYS_FILE, RunStore  # noqa: E402

# Targets: (JSON key, comparison, bound). "<=" means the measured value must not exceed the bound.
TARGETS = (
    ("capture_overhead", "<=", 1.10),
    ("batch_speedup", ">=", 4.0),
    ("warm_fraction", "<=", 0.05),
    ("workers_speedup", ">=", 1.6),
    ("bytes_per_value", "<=", 2.0),
)

# Sizes of the default and the --quick run. --quick uses 0.2 s of audio (13 decoder steps), fewer
# repeats, one pass of the one-prompt-at-a-time loop, and only the transformer_hidden level of the
# verdict suite, which reads the decoder captures. On the musicgen-small architecture it took about
# 10 minutes on a 2-core CPU shared with other jobs (docs/benchmarks.md).
FULL = {"duration": 1.0, "batch": 8, "repeats": 3, "loop_repeats": 3, "verdict_duration": 1.0,
        "verdict_marker": None}
QUICK = {"duration": 0.2, "batch": 8, "repeats": 2, "loop_repeats": 1, "verdict_duration": 0.2,
         "verdict_marker": "transformer_hidden"}

# The settings of ``model.generate`` as a user would call it, which the sampled baseline uses.
DEFAULT_TOP_K = 250
DEFAULT_GUIDANCE_SCALE = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small-random",
                        help="MusicGen to benchmark: a built-in name (tiny, small-random), a hub id or a directory "
                             "(default: small-random)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or auto (default: cpu)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"),
                        help="model weights dtype (default: float32)")
    parser.add_argument("--quick", action="store_true",
                        help=f"shorter audio, fewer repeats and only the {QUICK['verdict_marker']} level of the verdict suite")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of audio per generated sample in the capture timings (default: 1.0, "
                             "0.2 with --quick)")
    parser.add_argument("--batch", type=int, default=None, help="batch size of the batched timings (default: 8)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats of each batched call after the warm-up; times are medians "
                             "(default: 3, 2 with --quick)")
    parser.add_argument("--loop-repeats", type=int, default=None,
                        help="timed passes of the one-prompt-at-a-time loop (default: 3, 1 with --quick)")
    parser.add_argument("--verdict-samples", type=int, default=2,
                        help="--samples (per emotion) of the verdict-suite runs (default: 2)")
    parser.add_argument("--verdict-duration", type=float, default=None,
                        help="--duration in seconds of the verdict-suite runs (default: 1.0, 0.2 with --quick)")
    parser.add_argument("--verdict-batch-size", type=int, default=4,
                        help="--batch-size of the verdict-suite runs; with the default plan of 8 samples, "
                             "4 gives each of 2 workers one batch (default: 4)")
    parser.add_argument("--verdict-marker", default=None,
                        help="-m expression for the verdict-suite runs (default: all levels, "
                             f"{QUICK['verdict_marker']} with --quick)")
    parser.add_argument("--verdict-workers", type=int, default=2,
                        help="pytest-xdist workers (-n) of the parallel cold run (default: 2)")
    parser.add_argument("--no-verdict", action="store_true",
                        help="skip the verdict-suite subprocesses; their keys are null in the JSON")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON line to this file")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    for name in ("duration", "batch", "repeats", "loop_repeats", "verdict_duration", "verdict_marker"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    for name in ("batch", "repeats", "loop_repeats", "verdict_batch_size", "verdict_workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")
    for name in ("duration", "verdict_duration"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} must be a positive number of seconds")
    return args


# ---------------------------------------------------------------------------------------------
# Memory


def self_peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """Return the largest peak RSS in MiB of any waited-for child process or its descendants.

    Linux starts an exec'd child's peak at the parent's peak at the time of the fork, so this is
    only the children's own peak while the parent is smaller than they are. main() therefore runs
    the verdict subprocesses before it loads a model.
    """
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def parameter_mb(loaded: LoadedModel) -> float:
    """Return the bytes of every parameter and buffer of the model, in MiB."""
    tensors = list(loaded.model.parameters()) + list(loaded.model.buffers())
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors) / 2**20


def capture_mb(captures) -> float:
    """Return the in-memory size of the arrays of a list of captures, in MiB."""
    return sum(array.nbytes for capture in captures for array in capture.arrays.values()) / 2**20


# ---------------------------------------------------------------------------------------------
# Generation timings


def make_requests(count: int) -> list[CaptureRequest]:
    """Return ``count`` requests from the default prompt set, cycling over its emotions."""
    prompt_set = load_prompt_set(resolve_prompt_set("default"))
    per_emotion = math.ceil(count / len(prompt_set.emotions))
    plan = prompt_set.sample_plan(per_emotion, 0)[:count]
    return [
        CaptureRequest(
            text=sample.prompt.text, seed=sample.seed,
            emotion_word_spans=tuple((word.start, word.end) for word in sample.prompt.emotion_words),
        )
        for sample in plan
    ]


def encode(loaded: LoadedModel, requests: list[CaptureRequest]) -> dict:
    """Tokenize the request texts as ``capture_batch`` does, padded, on the model's device."""
    encoded = loaded.tokenizer([request.text for request in requests], padding=True, return_tensors="pt")
    return {"input_ids": encoded["input_ids"].to(loaded.device),
            "attention_mask": encoded["attention_mask"].to(loaded.device)}


def plain_generate(loaded: LoadedModel, requests: list[CaptureRequest], params: GenerationParams, steps: int):
    """Generate with the capture's sampler and greedy config, but with no hooks and no copying."""
    sampler = SeededSampler(
        [request.seed for request in requests], loaded.num_codebooks, guidance_scale=params.guidance_scale,
        top_k=params.top_k, temperature=params.temperature, device=loaded.device,
    )
    config = greedy_config(loaded.model.generation_config, params, steps)
    with torch.inference_mode():
        return loaded.model.generate(**encode(loaded, requests), generation_config=config, logits_processor=[sampler])


def default_generate(loaded: LoadedModel, requests: list[CaptureRequest], steps: int):
    """Generate as a user would, with transformers' own sampling and guidance."""
    with torch.inference_mode():
        return loaded.model.generate(
            **encode(loaded, requests), do_sample=True, top_k=DEFAULT_TOP_K,
            guidance_scale=DEFAULT_GUIDANCE_SCALE, max_new_tokens=steps,
        )


def synchronize(loaded: LoadedModel) -> None:
    if loaded.device.type == "cuda":
        torch.cuda.synchronize(loaded.device)


def timed(loaded: LoadedModel, function: Callable[[], object]) -> float:
    """Return the wall seconds of one call, waiting for queued GPU work before and after."""
    synchronize(loaded)
    started = time.perf_counter()
    function()
    synchronize(loaded)
    return time.perf_counter() - started


def measure_generation(loaded: LoadedModel, args: argparse.Namespace) -> dict:
    """Time capture_batch against both plain-generate baselines, batched and one prompt at a time."""
    params = GenerationParams(duration=args.duration, guidance_scale=DEFAULT_GUIDANCE_SCALE, top_k=DEFAULT_TOP_K)
    spec = CaptureSpec()
    steps = steps_for_frames(params.frames(loaded.frame_rate), loaded.num_codebooks)
    requests = make_requests(args.batch)

    contenders = {
        "capture": lambda: capture_batch(loaded, requests, params, spec),
        "plain": lambda: plain_generate(loaded, requests, params, steps),
        "default": lambda: default_generate(loaded, requests, steps),
    }
    for function in contenders.values():
        function()

    # Rotate the order in each repeat, so that a load change during a repeat does not always
    # fall on the same contender.
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for repeat in range(args.repeats):
        rotated = order[repeat % len(order):] + order[:repeat % len(order)]
        for name in rotated:
            seconds[name].append(timed(loaded, contenders[name]))
    median = {name: statistics.median(values) for name, values in seconds.items()}

    # One prompt at a time, right after the batched repeats: the same requests, each its own batch.
    single = []
    for _ in range(args.loop_repeats):
        single.append(timed(loaded, lambda: [capture_batch(loaded, [request], params, spec) for request in requests]))
    loop_median = statistics.median(single)

    captures = capture_batch(loaded, requests, params, spec)
    return {
        "steps": steps,
        "captures": captures,
        "seconds": {name: [round(value, 4) for value in values] for name, values in seconds.items()},
        "loop_seconds": [round(value, 4) for value in single],
        "capture_seconds": median["capture"],
        "plain_seconds": median["plain"],
        "default_seconds": median["default"],
        "loop_seconds_median": loop_median,
        "capture_overhead": median["capture"] / median["plain"],
        "capture_overhead_vs_default_sampling": median["capture"] / median["default"],
        "batch_speedup": (loop_median / len(requests)) / (median["capture"] / len(requests)),
    }


# ---------------------------------------------------------------------------------------------
# Store size


def measure_storage(capture) -> dict:
    """Store one capture in a fresh float16 run store and return the bytes per stored float value.

    Counts the on-disk size of each float array's npy member of the npz (its header included),
    from the entry's own arrays file. The waveform is stored at full precision on purpose, so
    ``bytes_per_value`` leaves it out and ``bytes_per_value_all_floats`` includes it.
    """
    with tempfile.TemporaryDirectory(prefix="bench-store-") as directory:
        store = RunStore(Path(directory))
        key = "0" * 64
        entry = store.put(key, capture.arrays, capture.meta, capture.files, keep_precision=names.FULL_PRECISION)
        records = entry.manifest["arrays"]
        with zipfile.ZipFile(entry.path / ARRAYS_FILE) as archive:
            sizes = {info.filename.removesuffix(".npy"): info.compress_size for info in archive.infolist()}
        entry_bytes = sum(path.stat().st_size for path in entry.path.iterdir() if path.is_file())

    float_names = [name for name, record in records.items() if np.dtype(record["stored_dtype"]).kind == "f"]
    capture_names = [name for name in float_names if name not in names.FULL_PRECISION]

    def per_value(selected: list[str]) -> float:
        values = sum(math.prod(records[name]["shape"]) for name in selected)
        return sum(sizes[name] for name in selected) / values

    return {
        "bytes_per_value": per_value(capture_names),
        "bytes_per_value_all_floats": per_value(float_names),
        "stored_dtypes": {name: records[name]["stored_dtype"] for name in float_names},
        "entry_bytes": entry_bytes,
    }


# ---------------------------------------------------------------------------------------------
# Verdict suite


def verdict_command(args: argparse.Namespace, cache_dir: Path, reports_dir: Path, workers: int) -> list[str]:
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "tests_hypotheses"), "-q", "-p", "no:cacheprovider",
        "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "--model", args.model, "--device", args.device, "--dtype", args.dtype,
        "--samples", str(args.verdict_samples), "--duration", str(args.verdict_duration),
        "--batch-size", str(args.verdict_batch_size),
        "--cache-dir", str(cache_dir), "--reports-dir", str(reports_dir),
    ]
    if args.verdict_marker:
        command += ["-m", args.verdict_marker]
    if workers > 1:
        command += ["-n", str(workers)]
    return command


def run_verdict(args: argparse.Namespace, cache_dir: Path, reports_dir: Path, workers: int) -> dict:
    """Run the verdict suite once and return its wall time and which processes generated samples."""
    command = verdict_command(args, cache_dir, reports_dir, workers)
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr, text=True)
        # os.wait4 returns the resource usage of this run alone (its largest process, xdist
        # workers included), where RUSAGE_CHILDREN would mix all runs.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()

    # Exit code 1 means some hypothesis tests failed, which random weights are expected to cause.
    # Anything else means the run itself broke, so its time would measure nothing.
    if process.returncode not in (0, 1):
        raise RuntimeError(
            f"verdict run failed with exit code {process.returncode}: {' '.join(command)}\n"
            f"{output[-3000:]}\n{errors[-3000:]}"
        )

    log = cache_dir / "generation.log"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "keys": [record["key"] for record in records],
            "generating_pids": len({record["pid"] for record in records}), "summary": summary,
            "output_tail": output[-2000:] + errors[-2000:]}


def measure_verdict(args: argparse.Namespace) -> dict:
    """Time the verdict suite cold, warm (same store) and cold with pytest-xdist workers."""
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as directory:
        root = Path(directory)
        cold = run_verdict(args, root / "store-serial", root / "reports-cold", workers=1)
        warm = run_verdict(args, root / "store-serial", root / "reports-warm", workers=1)
        parallel = run_verdict(args, root / "store-parallel", root / "reports-parallel", workers=args.verdict_workers)

    # generation.log is append-only, so the warm run generated the lines it added to the cold run's.
    cold_keys = cold["keys"]
    warm_keys = warm["keys"][len(cold_keys):]
    if warm_keys:
        print(f"warning: the warm verdict run generated {len(warm_keys)} samples, "
              f"{len(set(warm_keys) & set(cold_keys))} of them with keys the cold run had stored. "
              f"End of its output:\n{warm['output_tail']}", file=sys.stderr)
    return {
        "verdict_cold_seconds": cold["seconds"],
        "verdict_warm_seconds": warm["seconds"],
        "verdict_cold_workers_seconds": parallel["seconds"],
        "warm_fraction": warm["seconds"] / cold["seconds"],
        "workers_speedup": cold["seconds"] / parallel["seconds"],
        "verdict_generated_cold": len(cold_keys),
        "verdict_generated_warm": len(warm_keys),
        "verdict_regenerated_stored_warm": len(set(warm_keys) & set(cold_keys)),
        "peak_rss_verdict_cold_mb": cold["peak_rss_mb"],
        "peak_rss_verdict_warm_mb": warm["peak_rss_mb"],
        "peak_rss_verdict_workers_mb": parallel["peak_rss_mb"],
        "verdict_generating_pids_workers": parallel["generating_pids"],
        "verdict_summary": cold["summary"],
    }


# ---------------------------------------------------------------------------------------------
# Report


def target_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """Return (metric, measured, target, met) rows for the printed table."""
    rows = []
    for key, comparison, bound in TARGETS:
        value = result.get(key)
        if value is None:
            rows.append((key, "not run", f"{comparison} {bound}", "-"))
            continue
        met = value <= bound if comparison == "<=" else value >= bound
        rows.append((key, f"{value:.3f}", f"{comparison} {bound}", "yes" if met else "NO"))

    budget = result["rss_budget_mb"]
    for key in ("peak_rss_mb", "peak_rss_children_mb"):
        value = result.get(key)
        if value is None:
            rows.append((key, "not run", f"<= {budget:.0f}", "-"))
        else:
            rows.append((key, f"{value:.0f}", f"<= {budget:.0f}", "yes" if value <= budget else "NO"))
    return rows


def print_table(result: dict) -> None:
    rows = [("metric", "measured", "target", "met")] + target_rows(result)
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print()
    print(f"capture_overhead_vs_default_sampling: {result['capture_overhead_vs_default_sampling']:.3f} "
          f"(capture {result['capture_seconds']:.2f} s, plain generate {result['plain_seconds']:.2f} s, "
          f"default sampling {result['default_seconds']:.2f} s, batch {result['batch']}, {result['steps']} steps)")
    print(f"memory: model {result['model_mb']:.0f} MiB, one batch of capture {result['capture_batch_mb']:.1f} MiB, "
          f"process baseline {result['baseline_rss_mb']:.0f} MiB; budget = baseline + model + 2 batches")


def finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baseline_rss = self_peak_rss_mb()

    # The verdict runs come first, while this process is small: see children_peak_rss_mb.
    verdict = None if args.no_verdict else measure_verdict(args)
    children_rss = None if verdict is None else children_peak_rss_mb()

    started = time.perf_counter()
    loaded = load_musicgen(args.model, device=args.device, dtype=args.dtype)
    load_seconds = time.perf_counter() - started

    generation = measure_generation(loaded, args)
    captures = generation.pop("captures")
    storage = measure_storage(captures[0])
    model_mb = parameter_mb(loaded)
    batch_mb = capture_mb(captures)
    peak_rss = self_peak_rss_mb()

    result = {
        "model": args.model, "device": str(loaded.device), "dtype": args.dtype, "quick": args.quick,
        "duration": args.duration, "batch": args.batch, "repeats": args.repeats,
        "loop_repeats": args.loop_repeats, "verdict_duration": args.verdict_duration,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
        "load_seconds": load_seconds,
        **generation,
        **storage,
        "model_mb": model_mb,
        "capture_batch_mb": batch_mb,
        "baseline_rss_mb": baseline_rss,
        "rss_budget_mb": baseline_rss + model_mb + 2 * batch_mb,
        "peak_rss_mb": peak_rss,
        "peak_rss_children_mb": children_rss,
        "verdict_marker": args.verdict_marker,
        **(verdict or {key: None for key in ("warm_fraction", "workers_speedup")}),
    }
    print_table(result)

    line = json.dumps({key: finite_or_none(value) for key, value in result.items()})
    if args.json is not None:
        args.json.write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
