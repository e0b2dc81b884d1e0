"""Cosine similarity between samples and between emotions, and how much emotion separates them.

The module offers:

- ``mean_pool``: average hidden states over tokens or steps, skipping padding.
- ``cosine_similarity_matrix``: cosine similarity between all rows of a matrix.
- ``emotion_means`` and ``emotion_similarity_matrix``: per-emotion mean vectors and the cosine
  between them, the measurement behind the research note's similarity numbers.
- ``pairwise_similarity_by_group``: sample-pair cosines split into within-emotion and
  between-emotion pairs.
- ``between_within_effect``: within minus between similarity and a descriptive Cohen's d.
- ``mean_between_emotion_cosine`` and ``layer_similarity_curve``: the similarity of emotion means,
  reduced to one number, and its course over layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emotion_hypotheses.analysis.groups import (
    BetweenWithin,
    as_labels,
    between_within_from_matrix,
    emotion_groups,
    require_emotions,
)
from emotion_hypotheses.errors import InsufficientDataError


def mean_pool(hidden: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Average ``hidden`` of shape ``(..., T, D)`` over its T axis and return ``(..., D)``.

    ``mask`` has shape ``(..., T)`` (bool or 0/1), true for real tokens, and padding is
    skipped. Without a mask every position counts. Raises InsufficientDataError when a
    mask row has no real token, because its mean is undefined.
    """
    hidden = np.asarray(hidden, dtype=np.float64)

    if hidden.ndim < 2:
        raise ValueError(f"hidden must have shape (..., T, D), got shape {hidden.shape}")

    if mask is None:
        return hidden.mean(axis=-2)

    weights = np.asarray(mask).astype(np.float64)

    if weights.shape != hidden.shape[:-1]:
        raise ValueError(f"mask shape {weights.shape} does not match hidden shape {hidden.shape} without its last axis")

    counts = weights.sum(axis=-1, keepdims=True)

    if np.any(counts == 0):
        raise InsufficientDataError(
            "a mask row marks no real token, so its mean is undefined. Pass a mask with at least one true entry per row"
        )

    return (hidden * weights[..., None]).sum(axis=-2) / counts


def cosine_similarity_matrix(features: np.ndarray) -> np.ndarray:
    """Compute the cosine similarity between all rows of ``features`` ``(N, D)`` as an ``(N, N)`` matrix.

    Values lie in [-1, 1]: 1 means the same direction, 0 orthogonal, -1 opposite. The
    cosine of a zero row is undefined, so its row and column are NaN.
    """
    # Hand-rolled instead of sklearn.metrics.pairwise.cosine_similarity, which silently
    # returns 0 for a zero row and so would read as "orthogonal" instead of "undefined".
    features = np.asarray(features, dtype=np.float64)

    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, D), got shape {features.shape}")

    norms = np.linalg.norm(features, axis=1)
    safe_norms = np.where(norms > 0, norms, np.nan)
    unit = features / safe_norms[:, None]

    similarity = np.clip(unit @ unit.T, -1.0, 1.0)

    return similarity


def emotion_means(features: np.ndarray, labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Average ``features`` ``(N, ...)`` per emotion and return (sorted emotions, means ``(E, ...)``)."""
    features = np.asarray(features, dtype=np.float64)
    label_list = as_labels(labels, features.shape[0])
    groups = emotion_groups(label_list)

    means = np.stack([features[indices].mean(axis=0) for indices in groups.values()])

    return list(groups), means


def emotion_similarity_matrix(features: np.ndarray, labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Compute the cosine similarity between per-emotion mean vectors.

    ``features`` is ``(N, D)`` (one pooled vector per sample), ``labels`` one emotion per
    sample. Returns (sorted emotions, ``(E, E)`` matrix). A high off-diagonal value means
    the emotions' average representations point the same way. It can stay high while the
    emotions are still separable, because a large shared component dominates the cosine.
    """
    emotions, means = emotion_means(features, labels)

    return emotions, cosine_similarity_matrix(means)


def mean_between_emotion_cosine(matrix: np.ndarray) -> float:
    """Average the off-diagonal entries of an ``(E, E)`` emotion similarity matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, columns = np.triu_indices(matrix.shape[0], k=1)

    if rows.size == 0:
        raise InsufficientDataError(
            f"the similarity matrix has {matrix.shape[0]} emotion(s), so it has no between-emotion pair. "
            "Use a prompt set with at least 2 emotions"
        )

    return float(np.mean(matrix[rows, columns]))


def pairwise_similarity_by_group(features: np.ndarray, labels: Sequence[str]) -> BetweenWithin:
    """Compute the cosine between every pair of different samples and split the pairs by emotion.

    ``features`` is ``(N, D)``. The result contains the mean cosine within each emotion and
    between each emotion pair, plus every pair's value. Needs at least 2 emotions and at
    least 2 samples per emotion (InsufficientDataError otherwise).
    """
    similarity = cosine_similarity_matrix(features)

    return between_within_from_matrix(similarity, labels)


def between_within_effect(features: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Compare within-emotion and between-emotion sample-pair cosine similarity.

    ``features`` is ``(N, D)``. Returns ``within`` and ``between`` (mean pair cosine),
    ``difference`` (within - between, positive when samples of one emotion are more alike
    than samples of different emotions), ``cohens_d`` and the pair counts.

    ``cohens_d`` is the difference divided by the pooled standard deviation of the pair
    cosines. Pairs that share a sample are not independent, so d is descriptive only and
    has no sampling distribution here. P-values come from permutation tests elsewhere.
    When both pair groups have zero spread, d is NaN for a zero difference and +-inf otherwise.
    """
    summary = pairwise_similarity_by_group(features, labels)

    within_values = summary.within_values
    between_values = summary.between_values
    difference = summary.within_mean - summary.between_mean

    n_within = within_values.size
    n_between = between_values.size
    pooled_variance = (
        (n_within - 1) * np.var(within_values, ddof=1) + (n_between - 1) * np.var(between_values, ddof=1)
    ) / (n_within + n_between - 2)
    pooled_sd = float(np.sqrt(pooled_variance))

    if pooled_sd > 0:
        cohens_d = difference / pooled_sd
    elif difference == 0:
        cohens_d = float("nan")
    else:
        cohens_d = float(np.copysign(np.inf, difference))

    return {
        "within": summary.within_mean,
        "between": summary.between_mean,
        "difference": difference,
        "cohens_d": cohens_d,
        "n_within_pairs": float(n_within),
        "n_between_pairs": float(n_between),
    }


def layer_similarity_curve(
    resid: np.ndarray,
    labels: Sequence[str],
    pair: tuple[str, str] | None = None,
) -> np.ndarray:
    """Compute the cosine similarity of emotion means at each layer and return it as an ``(L,)`` array.

    ``resid`` is ``(N, L, D)``: each sample's residual stream already pooled over steps.
    Without ``pair`` each value is the mean over all emotion pairs of the cosine between
    their mean vectors at that layer. With ``pair=(a, b)`` it is that pair's cosine. A dip
    in the curve marks the layers where the emotions' average representations differ most.
    """
    resid = np.asarray(resid, dtype=np.float64)

    if resid.ndim != 3:
        raise ValueError(f"resid must have shape (N, L, D), got shape {resid.shape}")

    label_list = as_labels(labels, resid.shape[0])
    require_emotions(emotion_groups(label_list))
    emotions, means = emotion_means(resid, label_list)

    if pair is not None:
        missing = [emotion for emotion in pair if emotion not in emotions]
        if missing:
            raise ValueError(f"emotion(s) {missing} not found in labels. Choose from {emotions}")

    n_layers = resid.shape[1]
    curve = np.empty(n_layers)

    for layer in range(n_layers):
        matrix = cosine_similarity_matrix(means[:, layer, :])

        if pair is None:
            curve[layer] = mean_between_emotion_cosine(matrix)
        else:
            curve[layer] = matrix[emotions.index(pair[0]), emotions.index(pair[1])]

    return curve
