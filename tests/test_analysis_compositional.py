"""Tests for emotion_hypotheses.analysis.compositional."""

import warnings

import numpy as np
import pytest

from emotion_hypotheses.analysis.compositional import fit_factor_space, raw_vs_factor, separation_score
from emotion_hypotheses.errors import InsufficientDataError

EMOTIONS = ["angry", "happy", "sad", "tender"]


def clusters_on_shared_offset(offset, n_per_emotion=15, n_dims=20, separation=2.0, noise=0.3, seed=0):
    """Return separable emotion clusters that all sit on one large shared offset, and their labels.

    The offset makes every raw cosine close to 1, although the clusters do not overlap.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, separation, size=(len(EMOTIONS), n_dims))

    features = np.concatenate(
        [offset + center + rng.normal(0.0, noise, size=(n_per_emotion, n_dims)) for center in centers]
    )
    labels = [emotion for emotion in EMOTIONS for _ in range(n_per_emotion)]

    return features, labels


def test_separation_known_silhouette():
    points = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])

    result = separation_score(points, ["a", "a", "b", "b"])

    # Each point: a = 1 (its partner), b = mean(10, sqrt(101)), silhouette = 1 - a / b.
    between = (10.0 + np.sqrt(101.0)) / 2
    assert result["silhouette"] == pytest.approx(1.0 - 1.0 / between)
    assert result["within_distance"] == pytest.approx(1.0)
    assert result["between_distance"] == pytest.approx(between)
    assert result["distance_ratio"] == pytest.approx(between)


def test_separation_one_sample_raises():
    with pytest.raises(InsufficientDataError, match=r"'b' has 1 sample"):
        separation_score(np.eye(3), ["a", "a", "b"])


@pytest.mark.parametrize("method", ["fa", "pca"])
def test_offset_hides_separation(method):
    features, labels = clusters_on_shared_offset(offset=100.0)

    # Four clusters differ along three directions, so three factors hold the structure.
    result = raw_vs_factor(features, labels, n_factors=3, method=method)

    assert result["raw_mean_cosine"] > 0.9
    assert result["silhouette"] > 0.7
    assert result["distance_ratio"] > 2.0
    assert result["n_factors"] == 3


def test_shuffled_labels_no_separation():
    features, labels = clusters_on_shared_offset(offset=100.0, seed=1)
    shuffled = list(np.random.default_rng(2).permutation(labels))

    result = raw_vs_factor(features, shuffled, n_factors=3)

    assert result["silhouette"] < 0.1
    assert result["distance_ratio"] == pytest.approx(1.0, abs=0.15)


def test_factor_space_ignores_offset():
    features, _ = clusters_on_shared_offset(offset=0.0, seed=3)

    plain = fit_factor_space(features, n_factors=3, method="pca")
    shifted = fit_factor_space(features + 1000.0, n_factors=3, method="pca")

    np.testing.assert_allclose(np.abs(shifted.scores), np.abs(plain.scores), atol=1e-6)


def test_factor_space_caps_factors():
    features = np.random.default_rng(4).normal(size=(10, 30))

    with pytest.warns(UserWarning, match="Using 9 factors"):
        space = fit_factor_space(features, n_factors=50)

    assert space.n_factors == 9
    assert space.requested_factors == 50
    assert space.scores.shape == (10, 9)


def test_factor_space_no_warning_within_cap():
    features = np.random.default_rng(5).normal(size=(10, 30))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        space = fit_factor_space(features, n_factors=4, method="pca")

    assert space.scores.shape == (10, 4)


def test_factor_space_unknown_method_raises():
    with pytest.raises(ValueError, match="method must be one of"):
        fit_factor_space(np.ones((4, 3)), method="ica")


def test_factor_space_one_sample_raises():
    with pytest.raises(InsufficientDataError, match="at least 2 samples"):
        fit_factor_space(np.ones((1, 3)))
