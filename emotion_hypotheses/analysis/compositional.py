"""Look for emotion in a factor space when raw cosine similarity makes the emotions look alike.

The module offers:

- ``fit_factor_space``: standardize features and fit factor analysis or PCA (scikit-learn).
- ``separation_score``: silhouette score and between/within distance ratio of labeled points.
- ``raw_vs_factor``: the raw between-emotion cosine next to the factor-space separation.

A large component shared by all samples makes every cosine close to 1 even when the emotions
form separate clusters. Standardizing removes that shared offset, and the factors keep the
directions along which samples vary, which is where a compositional emotion code would show.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist, squareform
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from emotion_hypotheses.analysis.groups import (
    as_labels,
    between_within_from_matrix,
    emotion_groups,
    require_emotions,
)
from emotion_hypotheses.analysis.similarity import emotion_similarity_matrix, mean_between_emotion_cosine
from emotion_hypotheses.errors import InsufficientDataError

FACTOR_METHODS = ("fa", "pca")


@dataclass(frozen=True)
class FactorSpace:
    """Samples projected into a fitted factor space.

    ``scores`` is ``(N, n_factors)``. ``requested_factors`` differs from ``n_factors`` when
    the request exceeded min(N - 1, D) and was capped. ``model`` is the fitted scikit-learn
    estimator and ``scaler`` the StandardScaler applied before it.
    """

    scores: np.ndarray
    n_factors: int
    requested_factors: int
    method: str
    model: FactorAnalysis | PCA
    scaler: StandardScaler


def fit_factor_space(
    features: np.ndarray,
    n_factors: int = 10,
    method: str = "fa",
    seed: int = 0,
) -> FactorSpace:
    """Standardize ``features`` ``(N, D)`` and fit ``method`` ("fa" or "pca") with ``n_factors`` factors.

    Each column is centered and scaled to unit variance first (constant columns are only
    centered), so a shared offset and differences in scale between dimensions do not drive
    the factors. N samples span at most N - 1 directions after centering, so ``n_factors``
    is capped at min(N - 1, D) with a UserWarning. Needs N >= 2.

    NOTE: factor-analysis scores give every factor unit variance, so factors beyond the
    real structure add noise dimensions with full weight. On four planted clusters in
    20 dimensions (see tests/test_analysis_compositional.py), the silhouette in "fa" space
    fell from 0.94 with 3 factors to 0.20 with 10, while "pca" stayed above 0.8. Compare
    a few values of ``n_factors`` before reading a low separation as no separation.
    """
    features = np.asarray(features, dtype=np.float64)

    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, D), got shape {features.shape}")

    if method not in FACTOR_METHODS:
        raise ValueError(f"method must be one of {FACTOR_METHODS}, got {method!r}")

    if n_factors < 1:
        raise ValueError(f"n_factors must be at least 1, got {n_factors}")

    n_samples, n_dims = features.shape
    if n_samples < 2 or n_dims < 1:
        raise InsufficientDataError(
            f"features has shape {features.shape}, but a factor space needs at least 2 samples and 1 dimension. "
            "Raise --samples"
        )

    max_factors = min(n_samples - 1, n_dims)
    used_factors = n_factors
    if n_factors > max_factors:
        warnings.warn(
            f"n_factors={n_factors} exceeds min(N - 1, D) = {max_factors} for features of shape "
            f"{features.shape}. Using {max_factors} factors",
            UserWarning,
            stacklevel=2,
        )
        used_factors = max_factors

    scaler = StandardScaler()
    standardized = scaler.fit_transform(features)

    if method == "fa":
        model: FactorAnalysis | PCA = FactorAnalysis(n_components=used_factors, random_state=seed)
    else:
        model = PCA(n_components=used_factors, random_state=seed)

    scores = model.fit_transform(standardized)

    return FactorSpace(
        scores=scores,
        n_factors=used_factors,
        requested_factors=n_factors,
        method=method,
        model=model,
        scaler=scaler,
    )


def separation_score(points: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Measure how well the emotion labels separate ``points`` ``(N, d)`` in Euclidean space.

    Returns:

    - ``silhouette``: scikit-learn's mean silhouette coefficient in [-1, 1]. Near 1 means
      tight, well separated emotion clusters, near 0 overlapping ones.
    - ``between_distance`` and ``within_distance``: mean Euclidean distance over
      between-emotion and within-emotion sample pairs.
    - ``distance_ratio``: between / within. About 1 when labels carry no structure, larger
      when samples of one emotion lie closer together than samples of different emotions.

    Needs at least 2 emotions, at least 2 samples per emotion and more samples than emotions.
    """
    points = np.asarray(points, dtype=np.float64)

    if points.ndim != 2:
        raise ValueError(f"points must have shape (N, d), got shape {points.shape}")

    label_list = as_labels(labels, points.shape[0])
    groups = emotion_groups(label_list)
    require_emotions(groups)

    distances = squareform(pdist(points, metric="euclidean"))
    summary = between_within_from_matrix(distances, label_list)

    silhouette = float(silhouette_score(points, label_list, metric="euclidean"))

    within_distance = summary.within_mean
    between_distance = summary.between_mean
    distance_ratio = between_distance / within_distance if within_distance > 0 else float("inf")

    return {
        "silhouette": silhouette,
        "between_distance": between_distance,
        "within_distance": within_distance,
        "distance_ratio": distance_ratio,
    }


def raw_vs_factor(
    features: np.ndarray,
    labels: Sequence[str],
    n_factors: int = 10,
    method: str = "fa",
    seed: int = 0,
) -> dict[str, float]:
    """Compute the raw between-emotion cosine and the factor-space separation of the same features.

    ``features`` is ``(N, D)``. Returns ``raw_mean_cosine`` (mean cosine between emotion
    mean vectors, as in ``emotion_similarity_matrix``), the factor-space ``silhouette``
    and ``distance_ratio`` from ``separation_score``, and ``n_factors`` (after capping).
    A raw cosine near 1 together with a high silhouette means that similarity hides a
    separation that the factor space reveals.
    """
    _, matrix = emotion_similarity_matrix(features, labels)
    raw_mean_cosine = mean_between_emotion_cosine(matrix)

    space = fit_factor_space(features, n_factors=n_factors, method=method, seed=seed)
    separation = separation_score(space.scores, labels)

    return {
        "raw_mean_cosine": raw_mean_cosine,
        "silhouette": separation["silhouette"],
        "distance_ratio": separation["distance_ratio"],
        "n_factors": float(space.n_factors),
    }
