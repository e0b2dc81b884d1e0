"""Thresholds read from TOML: the research note's predictions as comparisons that tests check.

Each level of the model gets a table, and each threshold a sub-table::

    [text_embedding.happy_sad]
    description = "Mean-pooled T5 cosine similarity of happy vs sad prompts"
    metric = "cosine_similarity"
    pair = ["happy", "sad"]           # optional: the two emotions compared
    op = "<"                          # one of <, <=, >, >=
    value = 0.8
    source = "happy vs sad below 0.8" # the sentence of the note the number comes from
    operationalization = "..."        # optional: how a non-numeric prediction became this number

Numbers live only in the file, never in code. ``load_thresholds`` validates the file and
raises ``ThresholdError`` with the file, the key, the value and the fix.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib, so it reads TOML with the tomli backport.
    import tomli as tomllib

from emotion_hypotheses.errors import ThresholdError

# NOTE: fixtures/ sits next to the package, not inside it, so this path exists only in a
# source checkout or an editable install.
DEFAULT_THRESHOLDS = Path(__file__).resolve().parent.parent / "fixtures" / "thresholds.toml"

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_REQUIRED_KEYS = ("description", "metric", "op", "value", "source")
_OPTIONAL_KEYS = ("pair", "operationalization")
_ALLOWED_KEYS = _REQUIRED_KEYS + _OPTIONAL_KEYS


@dataclass(frozen=True)
class Threshold:
    """A prediction of the research note: ``metric`` compared with ``value`` by ``op``."""

    level: str
    name: str
    metric: str
    op: str
    value: float
    source: str
    description: str
    pair: tuple[str, str] | None = None
    operationalization: str | None = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ThresholdError(
                f"Threshold {self.key}: unknown op {self.op!r}. Use one of {', '.join(OPERATORS)}."
            )

        if self.pair is not None:
            object.__setattr__(self, "pair", tuple(self.pair))

    @property
    def key(self) -> str:
        """The dotted TOML key, ``level.name``."""
        return f"{self.level}.{self.name}"

    @property
    def label(self) -> str:
        """``"happy vs sad"`` for a threshold with a pair, else the dotted key."""
        if self.pair is None:
            return self.key

        return " vs ".join(self.pair)

    def passes(self, measured: float) -> bool:
        """Return whether ``measured op value`` holds. NaN never passes."""
        measured = float(measured)
        if math.isnan(measured):
            return False

        return OPERATORS[self.op](measured, self.value)

    def explain(self, measured: float) -> str:
        """Describe the measurement against the prediction and its source.

        For example: ``happy vs sad: measured 0.934, expected < 0.8 (note: 'happy vs sad
        below 0.8')``. The operationalization, if any, follows the source.
        """
        measured_text, value_text = _format_pair(float(measured), self.value)
        origin = f"note: {self.source!r}"
        if self.operationalization is not None:
            origin += f"; operationalization: {self.operationalization}"

        return f"{self.label}: measured {measured_text}, expected {self.op} {value_text} ({origin})"


def _format_pair(measured: float, value: float) -> tuple[str, str]:
    """Format both numbers with 3 significant digits, or more if 3 would make them look equal.

    Without the extra digits, 0.79996 against 0.8 would read "measured 0.8, expected < 0.8".
    """
    value_text = f"{value:g}"
    for digits in range(3, 18):
        measured_text = f"{measured:.{digits}g}"
        if measured == value or measured_text != value_text:
            return measured_text, value_text

    return repr(measured), repr(value)


@dataclass(frozen=True)
class Thresholds:
    """All thresholds of one file, by level and name, in file order."""

    path: Path
    by_level: dict[str, dict[str, Threshold]] = field(hash=False)

    @property
    def levels(self) -> tuple[str, ...]:
        """Level names in file order."""
        return tuple(self.by_level)

    def level(self, level: str) -> list[Threshold]:
        """Return the thresholds of one level in file order.

        Raises ThresholdError naming the file and the available levels if the level is missing.
        """
        if level not in self.by_level:
            raise ThresholdError(
                f"{self.path}: no level [{level}]. Available levels: {', '.join(self.levels)}. "
                f"Add [{level}.NAME] tables with description, metric, op, value and source."
            )

        return list(self.by_level[level].values())

    def get(self, level: str, name: str) -> Threshold:
        """Return one threshold.

        Raises ThresholdError naming the file, the missing key and the available ones.
        """
        if level not in self.by_level:
            raise ThresholdError(
                f"{self.path}: no threshold [{level}.{name}] because level [{level}] is missing. "
                f"Available levels: {', '.join(self.levels)}. Add a [{level}.{name}] table with "
                "description, metric, op, value and source."
            )

        thresholds = self.by_level[level]
        if name not in thresholds:
            raise ThresholdError(
                f"{self.path}: no threshold [{level}.{name}]. Thresholds under [{level}]: "
                f"{', '.join(thresholds)}. Add a [{level}.{name}] table or use one of those names."
            )

        return thresholds[name]


def load_thresholds(path: str | os.PathLike[str] | None = None) -> Thresholds:
    """Read and validate a thresholds file, by default ``fixtures/thresholds.toml``.

    Raises ThresholdError for a missing file, malformed TOML (with line and column), a
    level or threshold that is not a table, unknown or missing keys, an unknown op, a
    non-numeric or non-finite value, an empty source and a malformed pair.
    """
    path = DEFAULT_THRESHOLDS if path is None else Path(path)
    document = _read_toml(path)

    if not document:
        raise ThresholdError(
            f"{path}: the file defines no thresholds. Add [LEVEL.NAME] tables with description, "
            "metric, op, value and source."
        )

    by_level: dict[str, dict[str, Threshold]] = {}
    for level, table in document.items():
        by_level[level] = _load_level(path, level, table)

    return Thresholds(path=path, by_level=by_level)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "not found"
        raise ThresholdError(
            f"Thresholds file {path} {problem}. Pass the path of a TOML thresholds file, or "
            f"None for the default {DEFAULT_THRESHOLDS}."
        )

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ThresholdError(f"Cannot read thresholds file {path}: {error}. Check its permissions.") from error

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ThresholdError(
            f"{path}: invalid UTF-8 at byte {error.start}. TOML files must be UTF-8, so re-save "
            "the file with that encoding."
        ) from error

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The tomllib message ends with "(at line L, column C)".
        raise ThresholdError(f"{path}: malformed TOML: {error}. Fix the syntax at that position.") from error


def _load_level(path: Path, level: str, table: Any) -> dict[str, Threshold]:
    if not isinstance(table, dict):
        raise ThresholdError(
            f"{path}: top-level key {level!r} is {table!r} ({type(table).__name__}), but each "
            f"top-level key must be a level table. Write thresholds as [{level}.NAME] tables."
        )

    if not table:
        raise ThresholdError(
            f"{path}: level [{level}] has no thresholds. Add [{level}.NAME] tables or remove it."
        )

    thresholds = {}
    for name, entry in table.items():
        thresholds[name] = _load_threshold(path, level, name, entry)

    return thresholds


def _load_threshold(path: Path, level: str, name: str, entry: Any) -> Threshold:
    where = f"{path}: [{level}.{name}]"
    if not isinstance(entry, dict):
        raise ThresholdError(
            f"{where} is {entry!r} ({type(entry).__name__}), but each threshold must be a table. "
            f"Write it as a [{level}.{name}] section with description, metric, op, value and source."
        )

    _check_keys(where, entry)

    metric = _require_text(where, entry, "metric")
    source = _require_text(where, entry, "source")
    description = _require_text(where, entry, "description")
    op = _require_text(where, entry, "op")
    if op not in OPERATORS:
        raise ThresholdError(f"{where}: unknown op {op!r}. Use one of {', '.join(OPERATORS)}.")

    value = _require_number(where, entry["value"])
    pair = _optional_pair(where, entry.get("pair"))

    operationalization = None
    if "operationalization" in entry:
        operationalization = _require_text(where, entry, "operationalization")

    return Threshold(
        level=level,
        name=name,
        metric=metric,
        op=op,
        value=value,
        source=source,
        description=description,
        pair=pair,
        operationalization=operationalization,
    )


def _check_keys(where: str, entry: dict[str, Any]) -> None:
    for key in entry:
        if key in _ALLOWED_KEYS:
            continue

        suggestion = difflib.get_close_matches(key, _ALLOWED_KEYS, n=1)
        hint = f"Did you mean {suggestion[0]!r}? " if suggestion else ""
        raise ThresholdError(
            f"{where}: unknown key {key!r}. {hint}Allowed keys: {', '.join(_ALLOWED_KEYS)}. "
            "Rename or remove it."
        )

    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise ThresholdError(
                f"{where}: missing required key {key!r}. Each threshold needs "
                f"{', '.join(_REQUIRED_KEYS)}. The 'source' key quotes the sentence of the research "
                "note that the number comes from."
            )


def _require_text(where: str, entry: dict[str, Any], key: str) -> str:
    text = entry[key]
    if not isinstance(text, str) or not text.strip():
        raise ThresholdError(
            f"{where}: {key} must be a non-empty string, got {text!r} ({type(text).__name__}). "
            "Write the value in quotes."
        )

    return text


def _require_number(where: str, value: Any) -> float:
    # bool is a numbers.Real subclass, but `value = true` is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ThresholdError(
            f"{where}: value must be a number, got {value!r} ({type(value).__name__}). "
            "Write it unquoted, for example value = 0.8."
        )

    if not math.isfinite(value):
        raise ThresholdError(
            f"{where}: value is {value!r}, but a threshold must be a finite number. Write a "
            "finite number, for example value = 0.8."
        )

    return float(value)


def _optional_pair(where: str, pair: Any) -> tuple[str, str] | None:
    if pair is None:
        return None

    is_valid = (
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(item, str) and item.strip() for item in pair)
        and pair[0] != pair[1]
    )
    if not is_valid:
        raise ThresholdError(
            f"{where}: pair must list two different emotion names, got {pair!r}. Write it as "
            'pair = ["happy", "sad"] or remove the key.'
        )

    return (pair[0], pair[1])
