"""Figures of the verdict report, drawn with matplotlib from data that results carry.

Each figure spec is a dict with a ``kind`` and its data, so workers send numbers and the
controller draws. Kinds: heatmap, curve, histogram, scatter, boxplot, bar.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def figure_filename(spec: dict) -> str:
    """Return a file name for ``spec`` made of its name, safe on every file system."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec["name"]) + ".png"


def draw(spec: dict, directory: Path) -> Path:
    """Draw ``spec`` into ``directory`` and return the PNG path."""
    directory.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=spec.get("size", (6, 4.5)))
    DRAWERS[spec["kind"]](axes, spec)
    axes.set_title(spec.get("title", spec["name"]), fontsize=10)
    figure.tight_layout()
    path = directory / figure_filename(spec)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def draw_heatmap(axes, spec: dict) -> None:
    matrix = np.asarray(spec["matrix"], dtype=float)
    image = axes.imshow(matrix, cmap="viridis", vmin=spec.get("vmin"), vmax=spec.get("vmax"), aspect="auto")
    axes.figure.colorbar(image, ax=axes, label=spec.get("value_label", ""))
    labels_x = spec.get("labels_x", spec.get("labels"))
    labels_y = spec.get("labels_y", spec.get("labels"))
    if labels_x is not None:
        axes.set_xticks(range(len(labels_x)), labels_x, rotation=45, ha="right", fontsize=8)
    if labels_y is not None:
        axes.set_yticks(range(len(labels_y)), labels_y, fontsize=8)
    if spec.get("annotate", matrix.size <= 64):
        for (row, column), value in np.ndenumerate(matrix):
            axes.text(column, row, f"{value:.3f}", ha="center", va="center", color="white", fontsize=8)
    axes.set_xlabel(spec.get("xlabel", ""))
    axes.set_ylabel(spec.get("ylabel", ""))


def draw_curve(axes, spec: dict) -> None:
    for label, values in spec["series"].items():
        values = np.asarray(values, dtype=float)
        x = spec.get("x", list(range(len(values))))
        axes.plot(x, values, marker="o" if len(values) < 40 else None, label=label)
    for value in spec.get("hlines", []):
        axes.axhline(value, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel(spec.get("xlabel", ""))
    axes.set_ylabel(spec.get("ylabel", ""))
    axes.legend(fontsize=8)


def draw_histogram(axes, spec: dict) -> None:
    for label, values in spec["series"].items():
        axes.plot(np.asarray(values, dtype=float), label=label, linewidth=1)
    axes.set_xlabel(spec.get("xlabel", ""))
    axes.set_ylabel(spec.get("ylabel", ""))
    axes.legend(fontsize=8)


def draw_scatter(axes, spec: dict) -> None:
    points = np.asarray(spec["points"], dtype=float)
    labels = np.asarray(spec["labels"])
    for label in dict.fromkeys(labels.tolist()):
        chosen = labels == label
        axes.scatter(points[chosen, 0], points[chosen, 1], label=label, s=18)
    axes.set_xlabel(spec.get("xlabel", ""))
    axes.set_ylabel(spec.get("ylabel", ""))
    axes.legend(fontsize=8)


def draw_bar(axes, spec: dict) -> None:
    labels = list(spec["labels"])
    values = np.asarray(spec["values"], dtype=float)
    colors = ["tab:green" if flag else "tab:grey" for flag in spec.get("highlight", [False] * len(values))]
    axes.bar(range(len(values)), np.nan_to_num(values), color=colors)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    for value in spec.get("hlines", []):
        axes.axhline(value, color="grey", linestyle="--", linewidth=1)
    axes.set_ylabel(spec.get("ylabel", ""))


def draw_boxplot(axes, spec: dict) -> None:
    groups = spec["groups"]
    axes.boxplot([np.asarray(values, dtype=float) for values in groups.values()])
    axes.set_xticks(range(1, len(groups) + 1), list(groups))
    axes.set_ylabel(spec.get("ylabel", ""))


DRAWERS = {
    "heatmap": draw_heatmap,
    "curve": draw_curve,
    "histogram": draw_histogram,
    "scatter": draw_scatter,
    "boxplot": draw_boxplot,
    "bar": draw_bar,
}
