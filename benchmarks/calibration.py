"""Calibration of the rigorous level tests on the planted models: false-positive rate and power per level.

For each planted model the script generates one pool of clips from the first --pool-templates
prompt templates of the default prompt set. It then runs each level's primary rigorous test
(grouped-CV probe or layer sweep with its permutation p-value) on many replicates. A replicate draws
--templates templates at random from the pool, keeping all four emotions of each drawn
template, and uses its own permutation seed. A level counts as detected when its raw p-value
is below --alpha, so the rates describe each test on its own, before the correction across
the run.

The false-positive rate comes from planted-null (no level carries emotion) and from the
levels planted-text-only leaves empty. Power comes from the levels that carry emotion. The
script checks FPR <= alpha + 2 s.e. on planted-null and power >= 0.8 on planted-all, prints
a table and one JSON line, and exits with status 1 when a check fails.

NOTE: replicates share templates from one pool, so they are not independent and the
standard errors sqrt(p (1 - p) / n) are estimates that assume they were.

Run from the repository root:
    .venv/bin/python benchmarks/calibration.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emotion_hypotheses.levels import rigorous  # noqa: E402
from emotion_hypotheses.levels.data import CaptureSet  # noqa: E402
from emotion_hypotheses.models.planted import EXPECTED_LEVELS  # noqa: E402
from emotion_hypotheses.plugin.options import Settings  # noqa: E402
from emotion_hypotheses.plugin.session import SuiteSession  # noqa: E402

MODELS = ("planted-null", "planted-text-only", "planted-all")
MIN_POWER = 0.8


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=100, help="replicates per model (default: 100)")
    parser.add_argument("--quick", action="store_true", help="20 replicates, 29 permutations and a pool of 12 templates")
    parser.add_argument("--permutations", type=int, default=49, help="permutations per test (default: 49)")
    parser.add_argument("--pool-templates", type=int, default=26,
                        help="templates in each model's pool, one clip per emotion each; the default prompt set has 26 "
                             "(default: 26)")
    parser.add_argument("--templates", type=int, default=6, help="templates drawn per replicate (default: 6)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    parser.add_argument("--duration", type=float, default=0.3, help="seconds of audio per clip (default: 0.3)")
    parser.add_argument("--cache-dir", default=None, help="run store for the pools (default: a temporary directory)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.replicates = 20
        arguments.permutations = 29
        arguments.pool_templates = 12
    if not 2 <= arguments.templates <= arguments.pool_templates:
        parser.error(f"--templates {arguments.templates} must lie between 2 and --pool-templates "
                     f"{arguments.pool_templates}.")
    if 1 / (arguments.permutations + 1) >= arguments.alpha:
        parser.error(f"--permutations {arguments.permutations} cannot give p < alpha {arguments.alpha}; "
                     f"pass at least {math.ceil(1 / arguments.alpha)}.")
    return arguments


def pool_source(model: str, arguments: argparse.Namespace, cache_dir: Path) -> rigorous.FeatureSource:
    """Generate (or read from the store) the model's pool and return a source of its level data."""
    settings = Settings(
        model=model, revision=None, prompts="default", thresholds=None, samples=arguments.pool_templates,
        duration=arguments.duration, seed=0, guidance_scale=3.0, top_k=250, device="cpu", dtype="float32",
        batch_size=4, layers=None, step_stride=1, cache_dir=cache_dir, refresh=False, text_encoder=None,
        permutations=arguments.permutations, alpha=arguments.alpha, correction="holm",
        reports_dir=cache_dir / "reports",
    )
    session = SuiteSession(settings, run_id=f"calibration-{model}")
    return rigorous.FeatureSource(
        lambda: rigorous.text_level_data(session.text_encoder, session.plan),
        lambda: CaptureSet(session.captures(), model=session.model_identity),
        rigorous.load_config(),
    )


def detections(source: rigorous.FeatureSource, arguments: argparse.Namespace) -> dict[str, list[bool]]:
    """Run every level's primary test on each replicate and return whether its raw p is below alpha."""
    levels = {level: source.level(level) for level in rigorous.LEVELS}
    templates = np.unique(levels["text_embedding"].groups)
    found: dict[str, list[bool]] = {level: [] for level in rigorous.LEVELS}

    for replicate in range(arguments.replicates):
        rng = np.random.default_rng(replicate)
        drawn = rng.choice(templates, size=arguments.templates, replace=False)
        for level, data in levels.items():
            subset = data.subset(np.isin(data.groups, drawn))
            outcome = rigorous.run_test(level, rigorous.PRIMARY_TESTS[level], subset, source.config,
                                        arguments.permutations, base_seed=replicate)
            found[level].append(outcome.raw_p is not None and outcome.raw_p < arguments.alpha)
    return found


def rate(values: list[bool]) -> tuple[float, float]:
    """Return the detection rate and its standard error sqrt(p (1 - p) / n)."""
    p = float(np.mean(values))
    return p, math.sqrt(p * (1 - p) / len(values))


def main() -> int:
    arguments = parse_arguments()
    warnings.filterwarnings("ignore")
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="eh-calibration-") as temporary:
        cache_dir = Path(arguments.cache_dir) if arguments.cache_dir else Path(temporary)
        cache_dir.mkdir(parents=True, exist_ok=True)
        results = {model: detections(pool_source(model, arguments, cache_dir), arguments) for model in MODELS}

    n = arguments.replicates
    bound = None
    rows = []
    checks = {"fpr_within_bound": True, "power_at_least_0.8": True}
    print(f"replicates {n}, permutations {arguments.permutations}, templates per replicate {arguments.templates}, "
          f"alpha {arguments.alpha}")
    print(f"{'model':18} {'level':20} {'planted':8} {'rate':>6} {'s.e.':>6}  measures")
    for model in MODELS:
        for level in rigorous.LEVELS:
            planted = level in EXPECTED_LEVELS[model]
            value, error = rate(results[model][level])
            measure = "power" if planted else "FPR"
            rows.append({"model": model, "level": level, "planted": planted, "measure": measure,
                         "rate": value, "se": error})
            print(f"{model:18} {level:20} {str(planted):8} {value:6.3f} {error:6.3f}  {measure}")

            if model == "planted-null":
                # With a rate of 0 the s.e. is 0 too, so the bound uses the s.e. at alpha itself.
                bound = arguments.alpha + 2 * math.sqrt(arguments.alpha * (1 - arguments.alpha) / n)
                checks["fpr_within_bound"] &= value <= bound
            if model == "planted-all":
                checks["power_at_least_0.8"] &= value >= MIN_POWER

    summary = {
        "benchmark": "calibration", "replicates": n, "permutations": arguments.permutations,
        "templates": arguments.templates, "alpha": arguments.alpha, "fpr_bound": bound, "checks": checks,
        "seconds": round(time.perf_counter() - started, 1), "rows": rows,
    }
    print(json.dumps(summary))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
