"""Write ``verdict.json`` and ``verdict.md`` with their figures, atomically.

Both files are written to a temporary name and renamed into place, so an interrupted run
never leaves a half-written report next to a complete one.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from ..atomic import write_text_atomic
from ..levels.common import json_safe
from ..plugin.results import HypothesisResult, jsonable
from .figures import draw

LEVEL_ORDER = (
    "text_embedding", "transformer_hidden", "audio_tokens", "cross_attention", "dynamics",
    "compositional", "acoustic", "synthesis",
)

RANDOM_WEIGHTS_NOTICE = (
    "RANDOM WEIGHTS: the model under test ({model}) was constructed in code with random weights. "
    "This verdict checks the pipeline; it says nothing about where MusicGen encodes emotion."
)


def write_report(directory: Path, run: dict, results: list[HypothesisResult]) -> dict[str, Path]:
    """Write the report for ``results`` into ``directory`` and return the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figure_dir = directory / "figures"

    # Figures of an earlier run (another model or level) must not sit next to this run's report.
    for stale in figure_dir.glob("*.png"):
        stale.unlink()

    figure_paths: dict[str, list[str]] = defaultdict(list)
    for result in results:
        for spec in result.figures:
            path = draw(spec, figure_dir)
            figure_paths[f"{result.level}.{result.name}"].append(str(path.relative_to(directory)))

    document = {
        "run": run,
        "notice": notice(run),
        "results": [result_entry(result, figure_paths) for result in sorted(results, key=result_order)],
    }
    # Strict JSON has no NaN: undefined values (silent audio, too few steps) become null.
    document = json_safe(json.loads(json.dumps(document, default=jsonable)))
    json_path = directory / "verdict.json"
    markdown_path = directory / "verdict.md"
    write_text_atomic(json_path, json.dumps(document, indent=2, default=jsonable, allow_nan=False))
    write_text_atomic(markdown_path, render_markdown(run, sorted(results, key=result_order), figure_paths, directory))
    return {"json": json_path, "markdown": markdown_path, "figures": figure_dir}


def notice(run: dict) -> str | None:
    if run.get("weights_origin") == "random":
        return RANDOM_WEIGHTS_NOTICE.format(model=run.get("model"))
    return None


def result_order(result: HypothesisResult) -> tuple:
    level = LEVEL_ORDER.index(result.level) if result.level in LEVEL_ORDER else len(LEVEL_ORDER)
    return (level, result.kind != "raw", result.name)


def result_entry(result: HypothesisResult, figure_paths: dict) -> dict:
    entry = {key: value for key, value in vars(result).items() if key != "figures"}
    entry["figures"] = figure_paths.get(f"{result.level}.{result.name}", [])
    return entry


def threshold_text(result: HypothesisResult) -> str:
    """Return the pass condition of a result: its threshold, or the rigorous test's criterion."""
    if result.threshold is not None:
        return f"{result.op} {result.threshold}"
    if "alpha" in result.details:
        return f"adjusted p < {result.details['alpha']}"
    if "min_selectivity" in result.details:
        return f"> {result.details['min_selectivity']}"
    return "n/a"


def format_number(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    return f"{value:.4g}"


def outcome_word(result: HypothesisResult) -> str:
    if result.passed is None:
        return "n/a"
    return "PASS" if result.passed else "FAIL"


def render_side_by_side(results: list[HypothesisResult]) -> list[str]:
    """Render each level's raw-threshold checks next to its primary rigorous test, with disagreements."""
    primary = [result for result in results if result.kind == "rigorous" and result.details.get("role") == "primary"]
    if not primary:
        return []

    lines = [
        "## Raw versus rigorous", "",
        "| level | raw checks | rigorous test | accuracy (chance, 95% CI) | adjusted p | rigorous |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in primary:
        raw = [other for other in results if other.level == result.level and other.kind == "raw"]
        raw_text = ", ".join(f"{other.name} {outcome_word(other)}" for other in raw) or "n/a"
        low, high = result.details.get("ci_95") or (None, None)
        lines.append(
            f"| {result.level} | {raw_text} | {result.name} | {format_number(result.measured)} "
            f"({format_number(result.details.get('chance'))}, {format_number(low)}-{format_number(high)}) | "
            f"{format_number(result.p_value)} | {outcome_word(result)} |"
        )

    notes = [result for result in results if result.kind == "rigorous" and result.details.get("disagreement")]
    if notes:
        lines.append("")
        lines += [f"- **{result.level}.{result.name}**: {result.details['disagreement']}" for result in notes]
    return lines + [""]


def relative_link(path: str, directory: Path) -> str:
    """Return ``path`` relative to the report directory, so the links work when both move together."""
    return os.path.relpath(path, directory)


def render_markdown(run: dict, results: list[HypothesisResult], figure_paths: dict, directory: Path) -> str:
    lines = ["# Where does MusicGen encode emotion? Verdict", ""]
    warning = notice(run)
    if warning:
        lines += [f"> **{warning}**", ""]

    lines += ["## Run", "", "| setting | value |", "| --- | --- |"]
    for key in ("model", "revision", "weights_origin", "weights_id", "text_encoder", "prompt_set",
                "samples_per_emotion", "emotions", "duration", "seed", "guidance_scale", "device", "dtype",
                "started", "finished", "tests"):
        if key in run:
            lines.append(f"| {key} | {run[key]} |")
    lines.append("")

    synthesis = [result for result in results if result.level == "synthesis"]
    if synthesis:
        lines += ["## Synthesis", ""]
        for result in synthesis:
            lines.append(f"- **{result.description}**: {result.details.get('statement', format_number(result.measured))}")
            for key, value in result.details.items():
                if key != "statement" and isinstance(value, (str, int, float)):
                    lines.append(f"  - {key}: {value}")
        lines.append("")

    lines += ["## Verdict table", "",
              "| level | hypothesis | kind | measured | threshold | p | result |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for result in results:
        threshold = threshold_text(result)
        lines.append(
            f"| {result.level} | {result.description or result.name} | {result.kind} | "
            f"{format_number(result.measured)} | {threshold} | {format_number(result.p_value)} | {outcome_word(result)} |"
        )
    lines.append("")

    lines += render_side_by_side(results)

    lines += ["## Sources of the thresholds", ""]
    for result in results:
        if result.source:
            lines.append(f"- `{result.level}.{result.name}`: \"{result.source}\"")
    lines.append("")

    figures = [(key, path) for key, paths in figure_paths.items() for path in paths]
    if figures:
        lines += ["## Figures", ""]
        for key, path in figures:
            lines += [f"### {key}", "", f"![{key}]({path})", ""]

    audio = run.get("audio_examples") or {}
    if audio:
        lines += ["## Listen", ""]
        for emotion, paths in audio.items():
            links = ", ".join(f"[{Path(path).parent.name[:12]}.wav]({relative_link(path, directory)})" for path in paths)
            lines.append(f"- {emotion}: {links}")
        lines.append("")
    return "\n".join(lines)
