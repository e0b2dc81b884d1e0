"""Hypothesis results: recorded by tests, carried to the controller, and read by the report.

A test records each prediction it checks as a ``HypothesisResult``. The result travels as a JSON
user property of the test report, which pytest-xdist sends from workers to the controller and
``--junitxml`` writes as properties, so one process can write one report for the whole run.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

RESULT_PROPERTY = "emotion_hypotheses_result"


@dataclass
class HypothesisResult:
    """One prediction checked against data: the value measured, the threshold, and the outcome."""

    level: str
    name: str
    description: str
    measured: float | None
    op: str | None = None
    threshold: float | None = None
    source: str | None = None
    passed: bool | None = None
    kind: str = "raw"
    p_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    figures: list[dict[str, Any]] = field(default_factory=list)
    test_id: str | None = None
    outcome: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=jsonable, allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> "HypothesisResult":
        return cls(**json.loads(text))


def jsonable(value: Any) -> Any:
    """Convert numpy scalars and arrays to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"cannot store {type(value).__name__} in a hypothesis result")


class VerdictRecorder:
    """The ``verdict`` fixture: checks a measurement against its threshold and records the result."""

    def __init__(self, node, thresholds) -> None:
        self.node = node
        self.thresholds = thresholds
        self.results: list[HypothesisResult] = []

    def record(self, result: HypothesisResult) -> HypothesisResult:
        """Attach ``result`` to the test report (and so to JUnit and the controller's report)."""
        result.test_id = self.node.nodeid
        self.results.append(result)
        self.node.user_properties.append((RESULT_PROPERTY, result.to_json()))
        prefix = f"{result.level}.{result.name}"
        self.node.user_properties.append((f"{prefix}.measured", result.measured))
        if result.threshold is not None:
            self.node.user_properties.append((f"{prefix}.threshold", f"{result.op} {result.threshold}"))
        if result.p_value is not None:
            self.node.user_properties.append((f"{prefix}.p_value", result.p_value))
        self.node.user_properties.append((f"{prefix}.passed", result.passed))
        return result

    def check(
        self, level: str, name: str, measured: float, *, details: dict | None = None,
        figures: list | None = None, p_value: float | None = None, kind: str = "raw",
    ) -> HypothesisResult:
        """Compare ``measured`` with the threshold ``level.name``; record, then fail when it does not hold."""
        __tracebackhide__ = True
        threshold = self.thresholds.get(level, name)
        measured = float(measured)
        passed = threshold.passes(measured)
        result = self.record(HypothesisResult(
            level=level, name=name, description=threshold.description, measured=measured, op=threshold.op,
            threshold=threshold.value, source=threshold.source, passed=passed, kind=kind, p_value=p_value,
            details=details or {}, figures=figures or [],
        ))
        if not passed:
            raise AssertionError(threshold.explain(measured))
        return result
