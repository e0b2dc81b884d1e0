"""The synthesis: one comparable evidence score per level, and the research note's pattern it matches.

The score is the same test at every level: a linear probe (logistic regression) predicting the
emotion with folds grouped by prompt template, reported as accuracy over chance. A level shows
emotion when the probe's permutation p-value, adjusted across the levels with --correction,
is below --alpha. The patterns (``fixtures/patterns.toml``) list which levels should and should
not show emotion under each candidate location. The statement names the levels with evidence,
strongest first, and the matching patterns.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from . import rigorous

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport.
    import tomli as tomllib

DEFAULT_PATTERNS = Path(__file__).resolve().parent.parent.parent / "fixtures" / "patterns.toml"

# The six levels of the note's patterns, plus acoustic evidence, which no pattern constrains.
LEVELS = ("text_embedding", "transformer_hidden", "audio_tokens", "cross_attention", "dynamics", "compositional")
EVIDENCE_LEVELS = LEVELS + ("acoustic",)


@dataclass
class Pattern:
    """A candidate location of emotion and the levels expected to show emotion (true) or not (false)."""

    name: str
    description: str
    expect: dict[str, bool]


@dataclass
class Synthesis:
    """Probe evidence per level, which levels show emotion, and the patterns the evidence matches."""

    outcomes: dict[str, rigorous.RigorousOutcome]
    alpha: float
    correction: str
    patterns: list[Pattern]

    def score(self, level: str) -> float:
        """Return the probe's accuracy over chance at ``level``."""
        outcome = self.outcomes[level]
        return float(outcome.measured - (outcome.chance or 0.0))

    def shows(self) -> dict[str, bool]:
        """Return whether each level's adjusted p-value is below alpha."""
        return {
            level: outcome.adjusted_p is not None and outcome.adjusted_p < self.alpha
            for level, outcome in self.outcomes.items()
        }

    def matches(self) -> list[str]:
        """Return the patterns whose every expectation holds, the most constrained first."""
        shows = self.shows()
        matched = [
            pattern for pattern in self.patterns
            if all(shows.get(level) == value for level, value in pattern.expect.items())
        ]
        matched.sort(key=lambda pattern: -len(pattern.expect))
        return [pattern.name for pattern in matched]

    def encoded_in(self) -> list[str]:
        """Return the levels that show emotion, strongest evidence first."""
        shows = self.shows()
        return sorted((level for level in self.outcomes if shows[level]), key=self.score, reverse=True)

    def statement(self) -> str:
        levels = self.encoded_in()
        where = ", ".join(levels) if levels else "no level (no probe beats chance after correction)"
        matched = self.matches()
        pattern = ", ".join(matched) if matched else "none of the note's patterns"
        return f"emotion is encoded in: {where}; matching pattern: {pattern}"

    def details(self) -> dict:
        descriptions = {pattern.name: pattern.description for pattern in self.patterns}
        return {
            "statement": self.statement(),
            "score": "accuracy over chance of a linear probe with folds grouped by prompt template",
            "significance": (
                f"permutation p adjusted with {self.correction} across the {len(self.outcomes)} levels' primary "
                f"probes, below alpha = {self.alpha}. The verdict table's rigorous rows adjust across every "
                f"selected rigorous test, so their p-values for the same probes differ"
            ),
            "evidence_summary": ", ".join(
                f"{level} {self.score(level):+.3f} (p={_format_p(outcome.adjusted_p)})"
                for level, outcome in self.outcomes.items()
            ),
            "encoded_in": self.encoded_in(),
            "accuracy_over_chance": {level: self.score(level) for level in self.outcomes},
            "adjusted_p": {level: outcome.adjusted_p for level, outcome in self.outcomes.items()},
            "shows_emotion": self.shows(),
            "matched_patterns": self.matches(),
            "interpretation": "; ".join(descriptions[name] for name in self.matches()) or "no pattern matches",
            "patterns": {pattern.name: pattern.expect for pattern in self.patterns},
        }

    def figure(self) -> dict:
        shows = self.shows()
        return {
            "name": "synthesis_evidence", "kind": "bar", "labels": list(self.outcomes),
            "values": [self.score(level) for level in self.outcomes],
            "highlight": [shows[level] for level in self.outcomes], "hlines": [0.0],
            "ylabel": "probe accuracy over chance (green: significant)",
            "title": "Evidence of emotion per level", "size": (8, 4.5),
        }


def _format_p(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def load_patterns(path: Path | None = None) -> list[Pattern]:
    """Read the patterns; raise ValueError naming an unknown level."""
    path = DEFAULT_PATTERNS if path is None else Path(path)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    patterns = []
    for name, table in document["patterns"].items():
        unknown = [level for level in table["expect"] if level not in LEVELS]
        if unknown:
            raise ValueError(f"{path}: pattern {name!r} names unknown level(s) {unknown}; use one of {', '.join(LEVELS)}")
        patterns.append(Pattern(name=name, description=table["description"], expect=dict(table["expect"])))
    return patterns


def synthesis_keys() -> list[tuple[str, str]]:
    """Return the family of the synthesis: the primary rigorous test of every evidence level."""
    return [(level, rigorous.PRIMARY_TESTS[level]) for level in EVIDENCE_LEVELS]


def measure_synthesis(
    family: dict, *, alpha: float, correction: str, patterns_path: Path | None = None,
) -> Synthesis:
    """Build the synthesis from the primary probes in ``family`` (from ``rigorous.run_family``)."""
    outcomes = {level: family[(level, rigorous.PRIMARY_TESTS[level])] for level in EVIDENCE_LEVELS}
    return Synthesis(outcomes=outcomes, alpha=alpha, correction=correction, patterns=load_patterns(patterns_path))
