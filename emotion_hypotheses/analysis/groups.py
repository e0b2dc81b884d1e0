"""Label checks and between-emotion versus within-emotion summaries that the other analysis modules share.

The module offers:

- ``as_labels``: validate labels against a sample count and return them as a list of strings.
- ``emotion_groups``: map each emotion to the indices of its samples.
- ``require_emotions`` and ``require_samples_per_emotion``: raise InsufficientDataError when a
  comparison lacks emotions or samples.
- ``BetweenWithin`` and ``between_within_from_matrix`` / ``between_within_pairs``: summarize a
  pairwise score (a similarity or a divergence) over within-emotion and between-emotion pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TypeVar

import numpy as np

from emotion_hypotheses.errors import InsufficientDataError

Item = TypeVar("Item")


def as_labels(labels: Sequence[str], n_samples: int) -> list[str]:
    """Validate ``labels`` (one emotion string per sample) and return them as a list of str.

    Raises ValueError when the number of labels differs from ``n_samples``.
    """
    label_list = [str(label) for label in labels]

    if len(label_list) != n_samples:
        raise ValueError(
            f"got {len(label_list)} labels for {n_samples} samples. Pass exactly one emotion label per sample"
        )

    return label_list


def emotion_groups(labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Map each emotion to the indices of its samples, with emotions in sorted order.

    Sorting makes every matrix and curve indexed by emotion independent of sample order.
    """
    groups: dict[str, list[int]] = {}

    for index, label in enumerate(labels):
        groups.setdefault(str(label), []).append(index)

    return {emotion: np.asarray(groups[emotion], dtype=np.intp) for emotion in sorted(groups)}


def require_emotions(emotions: Collection[str], minimum: int = 2) -> None:
    """Raise InsufficientDataError when ``emotions`` (names, or a map keyed by them) has fewer than ``minimum``."""
    if len(emotions) < minimum:
        found = ", ".join(repr(emotion) for emotion in emotions) or "none"
        raise InsufficientDataError(
            f"found {len(emotions)} emotion(s) ({found}), but this comparison needs at least {minimum}. "
            "Use a prompt set with more emotions"
        )


def require_samples_per_emotion(groups: dict[str, np.ndarray], minimum: int = 2) -> None:
    """Raise InsufficientDataError when an emotion has fewer than ``minimum`` samples.

    Within-emotion comparisons need two different samples of the same emotion, so the default is 2.
    The message names the first emotion that falls short and its sample count.
    """
    for emotion, indices in groups.items():
        if len(indices) < minimum:
            raise InsufficientDataError(
                f"emotion {emotion!r} has {len(indices)} sample(s), but within-emotion comparisons "
                f"need at least {minimum}. Raise --samples to {minimum} or more"
            )


@dataclass(frozen=True)
class BetweenWithin:
    """A pairwise score summarized over within-emotion and between-emotion sample pairs.

    ``within`` maps each emotion to the mean over pairs of its own samples. ``between`` maps
    each sorted emotion pair ``(a, b)`` to the mean over pairs with one sample from each.
    ``within_values`` and ``between_values`` contain the score of every pair, so that
    ``within_mean`` and ``between_mean`` weight each pair equally, not each emotion.
    """

    emotions: tuple[str, ...]
    within: dict[str, float]
    between: dict[tuple[str, str], float]
    within_values: np.ndarray
    between_values: np.ndarray

    @property
    def within_mean(self) -> float:
        """Mean score over all within-emotion pairs."""
        return float(np.mean(self.within_values))

    @property
    def between_mean(self) -> float:
        """Mean score over all between-emotion pairs."""
        return float(np.mean(self.between_values))


def between_within_from_matrix(pair_scores: np.ndarray, labels: Sequence[str]) -> BetweenWithin:
    """Summarize a symmetric ``(N, N)`` matrix of pairwise scores by emotion.

    Only pairs of different samples count, so the diagonal is ignored. Requires at least
    2 emotions and at least 2 samples per emotion (InsufficientDataError otherwise).
    """
    pair_scores = np.asarray(pair_scores, dtype=np.float64)

    if pair_scores.ndim != 2 or pair_scores.shape[0] != pair_scores.shape[1]:
        raise ValueError(f"pair_scores must be a square (N, N) matrix, got shape {pair_scores.shape}")

    label_list = as_labels(labels, pair_scores.shape[0])
    groups = emotion_groups(label_list)
    require_emotions(groups)
    require_samples_per_emotion(groups)

    within: dict[str, float] = {}
    within_values: list[np.ndarray] = []

    for emotion, indices in groups.items():
        rows, columns = np.triu_indices(len(indices), k=1)
        values = pair_scores[indices[rows], indices[columns]]
        within[emotion] = float(np.mean(values))
        within_values.append(values)

    between: dict[tuple[str, str], float] = {}
    between_values: list[np.ndarray] = []

    for emotion_a, emotion_b in combinations(groups, 2):
        values = pair_scores[np.ix_(groups[emotion_a], groups[emotion_b])].ravel()
        between[(emotion_a, emotion_b)] = float(np.mean(values))
        between_values.append(values)

    return BetweenWithin(
        emotions=tuple(groups),
        within=within,
        between=between,
        within_values=np.concatenate(within_values),
        between_values=np.concatenate(between_values),
    )


def between_within_pairs(
    items: Sequence[Item],
    labels: Sequence[str],
    score: Callable[[Item, Item], float],
) -> BetweenWithin:
    """Score every pair of different items with ``score`` and summarize the scores by emotion.

    ``score`` must be symmetric, because each unordered pair is scored once. This calls it
    N (N - 1) / 2 times for N items.
    """
    label_list = as_labels(labels, len(items))
    groups = emotion_groups(label_list)
    require_emotions(groups)
    require_samples_per_emotion(groups)

    n_items = len(items)
    pair_scores = np.full((n_items, n_items), np.nan)

    for i, j in combinations(range(n_items), 2):
        value = float(score(items[i], items[j]))
        pair_scores[i, j] = value
        pair_scores[j, i] = value

    return between_within_from_matrix(pair_scores, label_list)
