"""Rigorous tests behind each level's verdict: grouped probes, permutation nulls, controls and one correction per run.

Each level gets a feature matrix, (N, D), or (L, N, D) for the layered levels
transformer_hidden and dynamics. The primary test of a level is a linear probe under
GroupKFold over prompt templates, with a permutation p-value from labels permuted within
templates, or for a layered level the best layer's p-value under a max-over-layers null.
Supporting tests add the anisotropy-corrected similarity effect, the lexical control and
RSA. Every test with a p-value joins the run's family, whose p-values are adjusted
together with Holm or Benjamini-Hochberg.

fixtures/rigorous.toml contains the settings that do not depend on alpha and documents every
test. The functions here take arrays or a ``CaptureSet`` and never touch pytest, so the
calibration benchmark runs them directly.
"""

from __future__ import annotations

import math
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.decomposition import PCA

from ..analysis.acoustic import acoustic_table
from ..analysis.similarity import emotion_similarity_matrix, mean_between_emotion_cosine
from ..capture import names
from ..errors import InsufficientDataError, ThresholdError
from ..stats import (
    adjust_pvalues,
    between_within_effect,
    centered_cosine,
    control_task_selectivity,
    layer_sweep,
    lexical_generalization,
    probe,
    rsa,
)
from ..stats.probes import wilson_interval
from .data import CaptureSet
from .text_embedding import distinct_prompts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport.
    import tomli as tomllib

# NOTE: fixtures/ sits next to the package, so this path exists only in a source checkout
# or an editable install.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent.parent / "fixtures" / "rigorous.toml"

LEVELS = (
    "text_embedding", "transformer_hidden", "audio_tokens", "cross_attention", "dynamics",
    "compositional", "acoustic",
)
LAYERED_LEVELS = ("transformer_hidden", "dynamics")

# The tests whose p-values join the family, as (level, test name).
FAMILY_TESTS = (
    ("text_embedding", "probe"),
    ("text_embedding", "similarity_effect"),
    ("text_embedding", "lexical_generalization"),
    ("transformer_hidden", "layer_sweep"),
    ("transformer_hidden", "similarity_effect"),
    ("audio_tokens", "probe"),
    ("cross_attention", "probe"),
    ("dynamics", "layer_sweep"),
    ("compositional", "probe"),
    ("compositional", "rsa"),
    ("acoustic", "probe"),
)

# The test whose outcome is each level's rigorous verdict.
PRIMARY_TESTS = {
    level: name
    for level, name in FAMILY_TESTS
    if name in ("probe", "layer_sweep")
}


# ---------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class RigorousConfig:
    """Alpha-independent settings of the rigorous tests and the documentation of each test."""

    n_splits: int = 5
    pca_components: int = 10
    acoustic_features: tuple[str, ...] = ("rms_db", "spectral_centroid_hz", "onset_rate", "mode_score")
    control_draws: int = 5
    min_selectivity: float = 0.1
    seed_sets: int = 2
    tests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, hash=False)

    def describe(self, level: str, name: str) -> str:
        """Return the description of test ``level.name``, or an empty string when the file has none."""
        return str(self.tests.get((level, name), {}).get("description", ""))

    def features(self, level: str, name: str) -> str:
        """Return what features test ``level.name`` uses, as documented in the file."""
        return str(self.tests.get((level, name), {}).get("features", ""))

    def raw_check(self, level: str, name: str) -> str | None:
        """Return the name of the raw-threshold check that test ``level.name`` is compared with."""
        return self.tests.get((level, name), {}).get("raw")


def load_config(path: str | Path | None = None) -> RigorousConfig:
    """Read fixtures/rigorous.toml (or ``path``) and validate its settings.

    Raises ValueError naming the file, the key and the value when a setting is invalid.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    settings = document.get("settings", {})
    defaults = RigorousConfig()

    def integer(key: str, minimum: int) -> int:
        value = settings.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{path}: settings.{key} must be an integer >= {minimum}, got {value!r}.")
        return value

    features = tuple(settings.get("acoustic_features", defaults.acoustic_features))
    if not features:
        raise ValueError(f"{path}: settings.acoustic_features is empty; list at least one acoustic feature.")

    tests = {}
    for level, table in document.get("tests", {}).items():
        if level not in LEVELS:
            raise ValueError(f"{path}: [tests.{level}] names an unknown level; use one of {', '.join(LEVELS)}.")
        for name, entry in table.items():
            tests[(level, name)] = dict(entry)

    return RigorousConfig(
        n_splits=integer("n_splits", 2),
        pca_components=integer("pca_components", 1),
        acoustic_features=features,
        control_draws=integer("control_draws", 1),
        min_selectivity=float(settings.get("min_selectivity", defaults.min_selectivity)),
        seed_sets=integer("seed_sets", 2),
        tests=tests,
    )


# ---------------------------------------------------------------------------------------
# Feature builders: each turns per-sample capture arrays into one row per sample.


def mean_pool_tokens(hidden: list[np.ndarray]) -> np.ndarray:
    """Average each sample's (T, D) token states over its T real tokens and stack them as (N, D)."""
    return np.stack([np.asarray(item, dtype=np.float64).mean(axis=0) for item in hidden])


def token_histograms(frames: list[np.ndarray], vocab_size: int) -> np.ndarray:
    """Build per-codebook token histograms, each normalized to sum to 1, flattened to (N, K * vocab_size).

    Ids outside [0, vocab_size) (the pad id of the delay pattern) are not counted. A codebook
    with no valid id gives an all-zero histogram.
    """
    rows = []
    for codes in frames:
        codes = np.asarray(codes)
        histograms = np.zeros((codes.shape[0], vocab_size))
        for codebook, row in enumerate(codes):
            valid = row[(row >= 0) & (row < vocab_size)]
            counts = np.bincount(valid.astype(np.intp), minlength=vocab_size)
            total = counts.sum()
            if total > 0:
                histograms[codebook] = counts / total
        rows.append(histograms.ravel())
    return np.stack(rows)


def attention_features(attention: list[np.ndarray], word_masks: list[np.ndarray]) -> np.ndarray:
    """Summarize cross-attention of each sample as (N, L * H + L).

    The first L * H columns are the attention mass on the emotion-word tokens per layer and
    head, averaged over steps. The last L columns are the entropy in nats of each attention
    row over the text tokens, averaged over heads and steps per layer.
    """
    rows = []
    for weights, mask in zip(attention, word_masks):
        weights = np.asarray(weights, dtype=np.float64)  # (L, H, S, T)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (weights.shape[-1],):
            raise ValueError(
                f"the emotion word mask has shape {mask.shape} but the attention reads {weights.shape[-1]} "
                f"text tokens; capture both from the same prompt."
            )
        mass = weights[..., mask].sum(axis=-1).mean(axis=-1)  # (L, H)
        safe = np.clip(weights, 1e-12, None)
        entropy = -(weights * np.log(safe)).sum(axis=-1).mean(axis=(1, 2))  # (L,)
        rows.append(np.concatenate([mass.ravel(), entropy]))
    return np.stack(rows)


def dynamics_layers(resid: list[np.ndarray]) -> np.ndarray:
    """Build (L, N, 2 + D) per-layer dynamics features from each sample's (L, S, D) residual stream.

    Per layer: the mean velocity norm (velocity = first difference over steps), the temporal
    variance averaged over dimensions, and the mean velocity vector.
    """
    per_sample = []
    for states in resid:
        states = np.asarray(states, dtype=np.float64)
        if states.shape[1] < 2:
            raise InsufficientDataError(
                f"dynamics need at least 2 generation steps, got {states.shape[1]}; generate longer clips."
            )
        velocity = np.diff(states, axis=1)  # (L, S - 1, D)
        speed = np.linalg.norm(velocity, axis=-1).mean(axis=1, keepdims=True)  # (L, 1)
        variance = states.var(axis=1).mean(axis=-1, keepdims=True)  # (L, 1)
        per_sample.append(np.concatenate([speed, variance, velocity.mean(axis=1)], axis=1))
    return np.stack(per_sample, axis=1)


def pca_scores(X: np.ndarray, n_components: int) -> np.ndarray:
    """Project X (N, D) on its first principal components, capped at N - 1 and at D.

    PCA is fitted on all samples without labels. The permutation null reuses the same
    scores for every permuted labelling, so this label-free step cannot make the test
    anti-conservative: it is part of the fixed feature map both the observed and the
    permuted accuracies see.
    """
    X = np.asarray(X, dtype=np.float64)
    components = max(1, min(n_components, X.shape[0] - 1, X.shape[1]))
    return PCA(n_components=components, svd_solver="full").fit_transform(X)


def acoustic_matrix(table: dict[str, np.ndarray], features: tuple[str, ...]) -> np.ndarray:
    """Stack the chosen acoustic features as (N, F), replacing NaN (silent audio) by the column's finite mean.

    The replacement ignores labels. A column without any finite value becomes 0.
    """
    missing = [name for name in features if name not in table]
    if missing:
        raise ValueError(f"acoustic features {missing} are not in the acoustic table; known: {sorted(table)}.")

    columns = []
    for name in features:
        column = np.asarray(table[name], dtype=np.float64).copy()
        finite = np.isfinite(column)
        column[~finite] = column[finite].mean() if finite.any() else 0.0
        columns.append(column)
    return np.stack(columns, axis=1)


def mean_between_cosine(X: np.ndarray, labels) -> float:
    """Return the note's raw measure: the mean cosine between per-emotion mean vectors over emotion pairs."""
    _, matrix = emotion_similarity_matrix(X, list(labels))
    return mean_between_emotion_cosine(matrix)


# ---------------------------------------------------------------------------------------
# Level data


@dataclass
class LevelData:
    """One level's features with the labels, CV groups, emotion words and seeds of its samples.

    ``features`` is (N, D), or (L, N, D) when ``layered``. ``raw`` maps the name of a
    raw-threshold check to the measurement recomputed from the same data.
    """

    level: str
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    words: np.ndarray
    seeds: np.ndarray
    layered: bool = False
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)

    def subset(self, mask: np.ndarray) -> "LevelData":
        """Return the samples where ``mask`` is true (features, labels and every per-sample array)."""
        features = self.features[:, mask] if self.layered else self.features[mask]
        return LevelData(
            level=self.level, features=features, labels=self.labels[mask], groups=self.groups[mask],
            words=self.words[mask], seeds=self.seeds[mask], layered=self.layered,
            extra={key: value[mask] for key, value in self.extra.items()},
        )


def text_level_data(encoder, plan) -> LevelData:
    """Encode each distinct prompt of the plan once and return its mean-pooled text embedding.

    Seeds do not change the text encoder's output, so the samples of one prompt would be
    exact copies. Keeping one row per prompt stops copies from narrowing the confidence
    interval. Nothing is generated.
    """
    prompts = distinct_prompts(plan)
    pooled = np.asarray(encoder.encode([prompt.text for prompt in prompts]).mean_pooled(), dtype=np.float64)
    labels = np.array([prompt.emotion for prompt in prompts])
    return LevelData(
        level="text_embedding",
        features=pooled,
        labels=labels,
        groups=np.array([prompt.template for prompt in prompts]),
        words=np.array([prompt.emotion_words[0].word.lower() for prompt in prompts]),
        seeds=np.zeros(len(prompts), dtype=np.int64),
        raw={"emotion_pairs_in_input": mean_between_cosine(pooled, labels)},
    )


def capture_level_data(level: str, captures: CaptureSet, config: RigorousConfig) -> LevelData:
    """Build the features of a generated level from the run's captures."""
    builders: dict[str, Callable[[CaptureSet, RigorousConfig], tuple[np.ndarray, dict]]] = {
        "transformer_hidden": _hidden_features,
        "audio_tokens": _token_features,
        "cross_attention": _attention_features,
        "dynamics": _dynamics_features,
        "compositional": _compositional_features,
        "acoustic": _acoustic_features,
    }
    if level not in builders:
        raise ValueError(f"unknown generated level {level!r}; use one of {', '.join(builders)}.")

    features, raw = builders[level](captures, config)
    return LevelData(
        level=level,
        features=features,
        labels=np.array(captures.labels),
        groups=np.array(captures.templates),
        words=np.array(captures.words),
        seeds=np.array(captures.seeds, dtype=np.int64),
        layered=level in LAYERED_LEVELS,
        raw=raw,
    )


def _hidden_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    resid = np.asarray(captures.resid_pooled(), dtype=np.float64)  # (N, L, D)
    layers = np.transpose(resid, (1, 0, 2))
    raw = float(np.mean([mean_between_cosine(layer, captures.labels) for layer in layers]))
    return layers, {"emotion_similarity": raw}


def _token_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    return token_histograms(captures.arrays(names.CODES_FRAMES), int(captures.meta["vocab_size"])), {}


def _attention_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    return attention_features(captures.arrays(names.DECODER_CROSS_ATTENTION), captures.arrays(names.TEXT_EMOTION_WORD_MASK)), {}


def _dynamics_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    return dynamics_layers(captures.arrays(names.DECODER_RESID_POST)), {}


def _compositional_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    resid = np.asarray(captures.resid_pooled(), dtype=np.float64)
    raw = mean_between_cosine(resid.reshape(resid.shape[0], -1), captures.labels)
    return pca_scores(resid[:, -1, :], config.pca_components), {"raw_similarity": raw}


def _acoustic_features(captures: CaptureSet, config: RigorousConfig) -> tuple[np.ndarray, dict]:
    table = acoustic_table(captures.arrays(names.AUDIO_WAVEFORM), int(captures.meta["sample_rate"]))
    return acoustic_matrix(table, config.acoustic_features), {}


class FeatureSource:
    """Builds each level's data on first use and keeps it, so a process encodes and generates at most once.

    ``load_text`` returns the text level's data. ``load_captures`` returns the run's
    ``CaptureSet`` and is called only when a generated level is requested.
    """

    def __init__(self, load_text: Callable[[], LevelData], load_captures: Callable[[], CaptureSet],
                 config: RigorousConfig) -> None:
        self.load_text = load_text
        self.load_captures = load_captures
        self.config = config
        self._levels: dict[str, LevelData] = {}

    def level(self, level: str) -> LevelData:
        """Return the data of ``level``, building it on first use."""
        if level not in self._levels:
            if level == "text_embedding":
                self._levels[level] = self.load_text()
            else:
                self._levels[level] = capture_level_data(level, self.load_captures(), self.config)
        return self._levels[level]


# ---------------------------------------------------------------------------------------
# Tests


@dataclass
class RigorousOutcome:
    """One rigorous test on one level: the statistic, its raw p-value and the numbers behind it.

    ``measured`` is an accuracy for probes, a similarity difference for the similarity
    effect and Spearman's rho for RSA. ``chance`` is None where no chance level applies.
    ``adjusted_p`` is filled in by ``adjust_family``.
    """

    level: str
    name: str
    measured: float
    raw_p: float | None
    chance: float | None = None
    ci: tuple[float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    adjusted_p: float | None = None

    @property
    def primary(self) -> bool:
        """Whether this test decides the level's rigorous verdict."""
        return PRIMARY_TESTS.get(self.level) == self.name


# Tests whose hypothesis has a direction: a positive statistic (within above between, rho above 0).
DIRECTIONAL_TESTS = ("similarity_effect", "rsa")


def supports_emotion(outcome: RigorousOutcome, alpha: float) -> bool:
    """Return whether ``outcome`` is evidence of emotion: adjusted p below alpha, in the predicted direction."""
    if outcome.adjusted_p is None or not outcome.adjusted_p < alpha:
        return False
    return outcome.name not in DIRECTIONAL_TESTS or outcome.measured > 0


def seed_for_test(level: str, name: str, base_seed: int = 0) -> int:
    """Derive a fixed random seed for test ``level.name``, equal in every process of a run."""
    return (zlib.crc32(f"{level}.{name}".encode()) + int(base_seed)) % (2**32)


def run_probe(data: LevelData, n_permutations: int, random_state: int, n_splits: int) -> RigorousOutcome:
    """Run the grouped-CV probe of a flat level, with labels permuted within templates."""
    result = probe(data.features, data.labels, data.groups, n_splits=n_splits, n_permutations=n_permutations,
                   random_state=random_state)
    return RigorousOutcome(
        level=data.level, name="probe", measured=result.accuracy, raw_p=result.pvalue, chance=result.chance,
        ci=(result.ci_low, result.ci_high),
        details={
            "accuracy_above_chance": result.accuracy_above_chance, "n_samples": result.n_samples,
            "n_classes": result.n_classes, "n_splits": result.n_splits, "n_features": int(data.features.shape[1]),
            "fold_accuracies": result.fold_accuracies.tolist(), "permutation_score": result.permutation_score,
        },
    )


def run_layer_sweep(data: LevelData, n_permutations: int, random_state: int, n_splits: int) -> RigorousOutcome:
    """Probe every layer and test the best one against the max-over-layers permutation null."""
    sweep = layer_sweep(data.features, data.labels, data.groups, n_splits=n_splits, n_permutations=n_permutations,
                        random_state=random_state)
    best = sweep.best_layer
    n_samples = data.features.shape[1]
    # The Wilson interval of the best layer, computed as probe() does for a single layer.
    ci = wilson_interval(int(round(sweep.best_accuracy * n_samples)), n_samples)
    return RigorousOutcome(
        level=data.level, name="layer_sweep", measured=sweep.best_accuracy, raw_p=sweep.p_best, chance=sweep.chance,
        ci=ci,
        details={
            "best_layer": best, "layer_accuracies": sweep.accuracies.tolist(),
            "layer_pvalues_uncorrected": None if sweep.layer_pvalues is None else sweep.layer_pvalues.tolist(),
            "accuracy_above_chance": sweep.best_accuracy - sweep.chance, "n_samples": n_samples,
            "n_splits": sweep.n_splits, "n_layers": int(data.features.shape[0]),
            "ci_note": "Wilson interval of the best layer, not corrected for choosing it",
        },
    )


def constant_features_outcome(data: LevelData, name: str) -> RigorousOutcome:
    """Return the outcome of a similarity test on features that are equal for every sample: no effect, p = 1.

    Centered cosine is undefined there, yet identical samples carry no emotion, so the test
    stays in the family with the largest p-value instead of stopping the run.
    """
    return RigorousOutcome(level=data.level, name=name, measured=0.0, raw_p=1.0,
                           details={"degenerate": "every sample has the same features"})


def has_constant_rows(X: np.ndarray) -> bool:
    """Return whether every row of X equals the first one (up to float rounding)."""
    return bool(np.allclose(X, X[0]))


def run_similarity_effect(data: LevelData, n_permutations: int, random_state: int) -> RigorousOutcome:
    """Compare centered-cosine similarity within and between emotions (last layer for a layered level)."""
    X = data.features[-1] if data.layered else data.features
    if has_constant_rows(X):
        return constant_features_outcome(data, "similarity_effect")
    effect = between_within_effect(centered_cosine(X), data.labels, groups=data.groups,
                                   n_permutations=n_permutations, random_state=random_state)
    raw_between = mean_between_cosine(X, data.labels)
    return RigorousOutcome(
        level=data.level, name="similarity_effect", measured=effect.difference, raw_p=effect.pvalue,
        details={
            "centered_within": effect.within, "centered_between": effect.between,
            "raw_between_emotion_cosine": raw_between,
            "layer": "last" if data.layered else None,
        },
    )


def run_lexical(data: LevelData, n_permutations: int, random_state: int) -> RigorousOutcome:
    """Train on half of each emotion's words and test on held-out synonyms."""
    result = lexical_generalization(data.features, data.labels, data.words, n_permutations=n_permutations,
                                    random_state=random_state)
    return RigorousOutcome(
        level=data.level, name="lexical_generalization", measured=result.accuracy, raw_p=result.pvalue,
        chance=result.chance, ci=(result.ci_low, result.ci_high),
        details={
            "n_train": result.n_train, "n_test": result.n_test,
            "train_words": {emotion: sorted(words) for emotion, words in result.train_words.items()},
            "heldout_words": {emotion: sorted(words) for emotion, words in result.heldout_words.items()},
        },
    )


def run_rsa(data: LevelData, n_permutations: int, random_state: int) -> RigorousOutcome:
    """Correlate the centered-cosine RDM with the same-emotion model RDM, permuting samples within templates."""
    X = data.features[-1] if data.layered else data.features
    if has_constant_rows(X):
        return constant_features_outcome(data, "rsa")
    result = rsa(X - X.mean(axis=0), data.labels, n_permutations=n_permutations, random_state=random_state,
                 groups=data.groups)
    return RigorousOutcome(level=data.level, name="rsa", measured=result.rho, raw_p=result.pvalue,
                           details={"model_rdm": "0 for same emotion, 1 otherwise"})


def run_selectivity(data: LevelData, config: RigorousConfig, random_state: int) -> RigorousOutcome:
    """Compare the real probe with a control task on random per-word labels (no p-value)."""
    result = control_task_selectivity(data.features, data.labels, data.words, data.groups,
                                      n_splits=config.n_splits, n_control_draws=config.control_draws,
                                      random_state=random_state)
    return RigorousOutcome(
        level=data.level, name="control_selectivity", measured=result.selectivity, raw_p=None,
        chance=result.real.chance, ci=(result.real.ci_low, result.real.ci_high),
        details={
            "accuracy": result.accuracy, "control_accuracy": result.control_accuracy,
            "control_accuracies": result.control_accuracies.tolist(), "min_selectivity": config.min_selectivity,
        },
    )


def run_test(level: str, name: str, data: LevelData, config: RigorousConfig, n_permutations: int,
             base_seed: int = 0) -> RigorousOutcome:
    """Run family test ``level.name`` on ``data`` with a seed derived from its name."""
    seed = seed_for_test(level, name, base_seed)
    if name == "probe":
        outcome = run_probe(data, n_permutations, seed, config.n_splits)
    elif name == "layer_sweep":
        outcome = run_layer_sweep(data, n_permutations, seed, config.n_splits)
    elif name == "similarity_effect":
        outcome = run_similarity_effect(data, n_permutations, seed)
    elif name == "lexical_generalization":
        outcome = run_lexical(data, n_permutations, seed)
    elif name == "rsa":
        outcome = run_rsa(data, n_permutations, seed)
    else:
        raise ValueError(f"unknown rigorous test {level}.{name}; family tests: {FAMILY_TESTS}.")
    outcome.details["features"] = config.features(level, name)
    outcome.details["n_permutations"] = n_permutations
    outcome.details.setdefault("raw", {}).update({key: value for key, value in data.raw.items()})
    return outcome


def adjust_family(outcomes: dict[tuple[str, str], RigorousOutcome], method: str) -> None:
    """Adjust the raw p-values of all ``outcomes`` together and store each as ``adjusted_p``.

    A test whose p-value is None (it could not run) counts as NaN, which adjust_pvalues
    leaves out of the number of tests.
    """
    keys = list(outcomes)
    raw = [outcomes[key].raw_p if outcomes[key].raw_p is not None else math.nan for key in keys]
    adjusted = adjust_pvalues(raw, method) if keys else np.array([])
    for key, value in zip(keys, adjusted):
        outcomes[key].adjusted_p = None if math.isnan(value) else float(value)
        outcomes[key].details["family_size"] = int(np.sum(~np.isnan(np.asarray(raw, dtype=float))))
        outcomes[key].details["correction"] = method


def run_family(keys, source: FeatureSource, n_permutations: int, method: str, base_seed: int = 0,
               ) -> dict[tuple[str, str], RigorousOutcome]:
    """Run the family tests ``keys`` on the data of ``source`` and adjust their p-values together."""
    unknown = [key for key in keys if key not in FAMILY_TESTS]
    if unknown:
        raise ValueError(f"unknown family tests {unknown}; known: {FAMILY_TESTS}.")

    outcomes = {}
    for level, name in sorted(set(keys), key=FAMILY_TESTS.index):
        try:
            outcomes[(level, name)] = run_test(level, name, source.level(level), source.config, n_permutations, base_seed)
        except InsufficientDataError as error:
            # One test without enough data must not take down the others; it reports its own error.
            outcomes[(level, name)] = RigorousOutcome(
                level=level, name=name, measured=math.nan, raw_p=None, details={"error": str(error)},
            )
    adjust_family(outcomes, method)
    return outcomes


def smallest_adjusted_p(family_size: int, n_permutations: int, method: str) -> float:
    """Return the smallest adjusted p-value any test can reach, when every test has the floor p = 1 / (n + 1).

    Holm multiplies the smallest p-value by the family size. Benjamini-Hochberg leaves the
    floor unchanged when every test reaches it.
    """
    floor = 1.0 / (n_permutations + 1)
    return min(1.0, floor * family_size) if method == "holm" else floor


# ---------------------------------------------------------------------------------------
# Raw versus rigorous


def disagreement(level: str, raw_name: str, raw_value: float, threshold, outcome: RigorousOutcome,
                 significant: bool) -> str | None:
    """Explain, in one sentence, where the raw cosine threshold and the rigorous test disagree.

    Every raw check named in fixtures/rigorous.toml is a between-emotion cosine, and a cosine
    below its bound reads as "emotions are distinct". Returns None when both agree.
    """
    reads_distinct = raw_value < threshold.value
    p_value = "n/a" if outcome.adjusted_p is None else f"{outcome.adjusted_p:.3g}"
    raw = f"raw between-emotion cosine {raw_value:.3g} ({level}.{raw_name}, bound {threshold.value:g})"
    if outcome.name in ("probe", "layer_sweep"):
        chance = "n/a" if outcome.chance is None else f"{outcome.chance:.2f}"
        found = f"a probe separates emotions at {outcome.measured:.2f} accuracy (chance {chance})"
        missing = f"no probe separates them across templates (accuracy {outcome.measured:.2f}, chance {chance})"
    else:
        found = f"the {outcome.name.replace('_', ' ')} test finds emotion ({outcome.measured:.3g})"
        missing = f"the {outcome.name.replace('_', ' ')} test finds no emotion ({outcome.measured:.3g})"

    if significant and not reads_distinct:
        return (
            f"{raw} reads as emotions alike, yet {found}, adjusted p = {p_value}: a direction shared by all "
            f"samples dominates the cosine and hides the signal."
        )
    if not significant and reads_distinct:
        return (
            f"{raw} reads as emotions distinct, yet {missing}, adjusted p = {p_value}: the raw difference "
            f"does not generalize to held-out prompt templates, or this run has too few samples to show it."
        )
    return None


def raw_comparison(level: str, raw_name: str | None, data_raw: dict[str, float], thresholds,
                   outcome: RigorousOutcome, significant: bool) -> dict[str, Any]:
    """Return the raw measurement next to the rigorous verdict, with a disagreement sentence when they differ.

    Returns an empty dict when the test has no raw counterpart or the thresholds file lacks it.
    """
    if raw_name is None or raw_name not in data_raw or thresholds is None:
        return {}
    try:
        threshold = thresholds.get(level, raw_name)
    except ThresholdError:
        return {}

    raw_value = float(data_raw[raw_name])
    details: dict[str, Any] = {
        "raw_check": f"{level}.{raw_name}", "raw_measured": raw_value,
        "raw_threshold": f"{threshold.op} {threshold.value:g}", "raw_passed": threshold.passes(raw_value),
    }
    sentence = disagreement(level, raw_name, raw_value, threshold, outcome, significant)
    if sentence is not None:
        details["disagreement"] = sentence
    return details


# ---------------------------------------------------------------------------------------
# Reproducibility


def seed_split_conclusions(data: LevelData, seed_sets: list[list[int]], config: RigorousConfig, n_permutations: int,
                           alpha: float, base_seed: int = 0) -> list[dict[str, Any]]:
    """Rerun the level's primary test on each disjoint seed set and return its conclusion per set.

    Each conclusion is whether the raw p-value of that set is below alpha. The sets are
    not corrected against each other: each is one replication of the same test.
    """
    name = PRIMARY_TESTS[data.level]
    results = []
    for index, seeds in enumerate(seed_sets):
        subset = data.subset(np.isin(data.seeds, seeds))
        outcome = run_test(data.level, name, subset, config, n_permutations, base_seed + index + 1)
        results.append({
            "seeds": seeds, "n_samples": int(subset.labels.size), "accuracy": outcome.measured,
            "p_value": outcome.raw_p, "significant": bool(outcome.raw_p is not None and outcome.raw_p < alpha),
        })
    return results
