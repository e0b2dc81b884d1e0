"""Small helpers shared by the level measurements: a bounded contrast and JSON-safe details."""

from __future__ import annotations

import numpy as np


def json_safe(value):
    """Return ``value`` with NaN and infinite floats replaced by None, in nested dicts and lists.

    The report is strict JSON, which has no NaN, and silent or short audio gives NaN features.
    """
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def contrast(expected_larger: float, other: float) -> float:
    """Return (expected_larger - other) / (expected_larger + other) for two non-negative means, in [-1, 1].

    Unlike a ratio it stays finite when ``other`` is 0: a ratio r maps to (r - 1) / (r + 1),
    so 1.2 becomes 0.0909. Two zero means give 0 (no difference).
    """
    total = expected_larger + other
    return float((expected_larger - other) / total) if total > 0 else 0.0
