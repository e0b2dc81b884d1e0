"""The synthesis: one comparable evidence score per level, and the research note's pattern it matches.

Each level defines a dissimilarity between two samples at that level. The evidence score is
Cohen's d of the dissimilarities of between-emotion pairs against within-emotion pairs (same
emotion, other seeds and paraphrases): positive when samples of different emotions lie farther
apart than the sampling noise of one emotion. Pairs share samples, so d is descriptive and
has no sampling distribution here. The patterns (``fixtures/patterns.toml``) say which levels
should and should not show emotion under each candidate location.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist, squareform

from ..analysis.attention import attention_between_within
from ..analysis.compositional import fit_factor_space
from ..analysis.groups import BetweenWithin, between_within_from_matrix
from ..analysis.similarity import cosine_similarity_matrix
from ..analysis.tokens import codebook_histograms, jensen_shannon
from ..capture import names
from .compositional import REQUESTED_FACTORS, residual_features
from .data import CaptureSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport.
    import tomli as tomllib

DEFAULT_PATTERNS = Path(__file__).resolve().parent.parent.parent / "fixtures" / "patterns.toml"
LEVELS = ("text_embedding", "transformer_hidden", "audio_tokens", "cross_attention", "dynamics", "compositional")


def effect_size(summary: BetweenWithin) -> float:
    """Return Cohen's d of between-emotion against within-emotion pair dissimilarities.

    With zero pooled spread, 0 for equal means and +-inf otherwise.
    """
    within = summary.within_values
    between = summary.between_values
    difference = float(np.mean(between) - np.mean(within))
    pooled_variance = ((within.size - 1) * np.var(within, ddof=1) + (between.size - 1) * np.var(between, ddof=1)) / (
        within.size + between.size - 2
    )
    pooled_sd = float(np.sqrt(pooled_variance)) if np.isfinite(pooled_variance) else 0.0
    if pooled_sd > 0:
        return difference / pooled_sd
    if difference == 0:
        return 0.0
    return float(np.copysign(np.inf, difference))


def cosine_distances(features: np.ndarray) -> np.ndarray:
    return 1.0 - cosine_similarity_matrix(features)


def text_distances(captures: CaptureSet) -> BetweenWithin:
    """Cosine distance of the encoder output, mean-pooled over each prompt's real tokens."""
    pooled = np.stack([hidden.mean(axis=0) for hidden in captures.arrays(names.TEXT_ENCODER_HIDDEN)])
    return between_within_from_matrix(cosine_distances(pooled), captures.labels)


def hidden_distances(captures: CaptureSet) -> BetweenWithin:
    """Cosine distance of the step-averaged residual stream, layers concatenated."""
    return between_within_from_matrix(cosine_distances(residual_features(captures)), captures.labels)


def token_distances(captures: CaptureSet) -> BetweenWithin:
    """Jensen-Shannon divergence of two samples' token histograms, averaged over codebooks."""
    vocab_size = int(captures.meta["vocab_size"])
    histograms = [
        codebook_histograms(np.asarray(codes, dtype=np.int64), vocab_size)
        for codes in captures.arrays(names.CODES_FRAMES)
    ]
    n_samples = len(histograms)
    matrix = np.zeros((n_samples, n_samples))
    for i in range(n_samples):
        for j in range(i + 1, n_samples):
            matrix[i, j] = matrix[j, i] = float(np.mean(jensen_shannon(histograms[i], histograms[j])))
    return between_within_from_matrix(matrix, captures.labels)


def attention_distances(captures: CaptureSet) -> BetweenWithin:
    """Jensen-Shannon divergence of emotion-word attention mass, as in the cross_attention level."""
    masks = [np.asarray(mask, dtype=bool) for mask in captures.arrays(names.TEXT_EMOTION_WORD_MASK)]
    return attention_between_within(captures.arrays(names.DECODER_CROSS_ATTENTION), captures.labels, masks)


def dynamics_distances(captures: CaptureSet) -> BetweenWithin:
    """One minus the cosine between two samples' velocities, averaged over layers and common steps."""
    velocities = [np.diff(resid, axis=1) for resid in captures.arrays(names.DECODER_RESID_POST)]
    steps = min(velocity.shape[1] for velocity in velocities)
    units = []
    for velocity in velocities:
        velocity = velocity[:, :steps].astype(np.float64)
        norms = np.linalg.norm(velocity, axis=-1, keepdims=True)
        units.append(velocity / np.where(norms > 0, norms, 1.0))
    n_samples = len(units)
    matrix = np.zeros((n_samples, n_samples))
    for i in range(n_samples):
        for j in range(i + 1, n_samples):
            matrix[i, j] = matrix[j, i] = 1.0 - float(np.mean(np.sum(units[i] * units[j], axis=-1)))
    return between_within_from_matrix(matrix, captures.labels)


def factor_distances(captures: CaptureSet) -> BetweenWithin:
    """Euclidean distance in the factor-analysis space of the compositional level."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_factors=\d+ exceeds", category=UserWarning)
        space = fit_factor_space(residual_features(captures), n_factors=REQUESTED_FACTORS, method="fa")
    return between_within_from_matrix(squareform(pdist(space.scores)), captures.labels)


DISTANCES = {
    "text_embedding": text_distances,
    "transformer_hidden": hidden_distances,
    "audio_tokens": token_distances,
    "cross_attention": attention_distances,
    "dynamics": dynamics_distances,
    "compositional": factor_distances,
}


@dataclass
class Pattern:
    """A candidate location of emotion and the levels expected to show emotion (true) or not (false)."""

    name: str
    description: str
    expect: dict[str, bool]


@dataclass
class Synthesis:
    """Evidence per level, the threshold for showing emotion, and the patterns the evidence matches."""

    scores: dict[str, float]
    shows_emotion_d: float
    patterns: list[Pattern]

    def shows(self) -> dict[str, bool]:
        """Return whether each level's evidence exceeds the threshold."""
        return {level: score > self.shows_emotion_d for level, score in self.scores.items()}

    def matches(self) -> list[str]:
        """Return the patterns whose every expectation holds, the most constrained first."""
        shows = self.shows()
        matched = [pattern for pattern in self.patterns if all(shows[level] == value for level, value in pattern.expect.items())]
        matched.sort(key=lambda pattern: -len(pattern.expect))
        return [pattern.name for pattern in matched]

    def statement(self) -> str:
        matched = self.matches()
        if not matched:
            return "emotion is encoded in: none of the note's patterns matches the measured evidence"
        return "emotion is encoded in: " + ", ".join(matched)

    def details(self) -> dict:
        return {
            "statement": self.statement(),
            "score": "Cohen's d of pairwise dissimilarity, between-emotion vs within-emotion pairs",
            "shows_emotion_d": self.shows_emotion_d,
            "evidence_summary": ", ".join(f"{level} d={score:.3g}" for level, score in self.scores.items()),
            "evidence": {level: (score if np.isfinite(score) else str(score)) for level, score in self.scores.items()},
            "shows_emotion": self.shows(),
            "matched_patterns": self.matches(),
            "patterns": {pattern.name: pattern.expect for pattern in self.patterns},
        }

    def figure(self) -> dict:
        finite = [score if np.isfinite(score) else float(np.sign(score)) * 10.0 for score in self.scores.values()]
        return {
            "name": "synthesis_evidence", "kind": "curve", "series": {"Cohen's d": finite},
            "x": list(self.scores), "hlines": [self.shows_emotion_d], "xlabel": "level",
            "ylabel": "between vs within effect size (infinite values drawn at +-10)",
            "title": "Evidence of emotion per level", "size": (8, 4.5),
        }


def load_patterns(path: Path | None = None) -> tuple[float, list[Pattern]]:
    """Read the evidence threshold and the patterns; raise ValueError naming an unknown level."""
    path = DEFAULT_PATTERNS if path is None else Path(path)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    patterns = []
    for name, table in document["patterns"].items():
        unknown = [level for level in table["expect"] if level not in LEVELS]
        if unknown:
            raise ValueError(f"{path}: pattern {name!r} names unknown level(s) {unknown}; use one of {', '.join(LEVELS)}")
        patterns.append(Pattern(name=name, description=table["description"], expect=dict(table["expect"])))
    return float(document["evidence"]["shows_emotion_d"]), patterns


def measure_synthesis(captures: CaptureSet, patterns_path: Path | None = None) -> Synthesis:
    """Compute every level's evidence score from the captures and load the patterns."""
    shows_emotion_d, patterns = load_patterns(patterns_path)
    scores = {level: effect_size(DISTANCES[level](captures)) for level in LEVELS}
    return Synthesis(scores=scores, shows_emotion_d=shows_emotion_d, patterns=patterns)
