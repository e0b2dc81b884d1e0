"""Tests for emotion_hypotheses.analysis.similarity and the shared groups helpers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emotion_hypotheses.analysis.groups import between_within_from_matrix, emotion_groups
from emotion_hypotheses.analysis.similarity import (
    between_within_effect,
    cosine_similarity_matrix,
    emotion_similarity_matrix,
    layer_similarity_curve,
    mean_pool,
    pairwise_similarity_by_group,
)
from emotion_hypotheses.errors import InsufficientDataError

finite_floats = st.floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False)
feature_matrices = arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 5)), elements=finite_floats).filter(
    lambda matrix: np.all(np.linalg.norm(matrix, axis=1) > 1e-3)
)


def planted_clusters(n_per_emotion, n_dims, separation, noise, seed):
    """Return features with one Gaussian cluster per emotion around random centers, and their labels."""
    rng = np.random.default_rng(seed)
    emotions = ["angry", "happy", "sad"]
    centers = rng.normal(0.0, separation, size=(len(emotions), n_dims))

    features = np.concatenate(
        [center + rng.normal(0.0, noise, size=(n_per_emotion, n_dims)) for center in centers]
    )
    labels = [emotion for emotion in emotions for _ in range(n_per_emotion)]

    return features, labels


def test_mean_pool_skips_padding():
    hidden = np.array([[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]])
    mask = np.array([True, True, False])

    pooled = mean_pool(hidden, mask)

    np.testing.assert_allclose(pooled, [2.0, 2.0])


def test_mean_pool_without_mask_uses_all():
    hidden = np.array([[1.0, 0.0], [3.0, 4.0]])

    np.testing.assert_allclose(mean_pool(hidden), [2.0, 2.0])


def test_mean_pool_batched_rows():
    hidden = np.array([[[1.0], [3.0]], [[5.0], [9.0]]])
    mask = np.array([[1, 1], [1, 0]])

    pooled = mean_pool(hidden, mask)

    assert pooled.shape == (2, 1)
    np.testing.assert_allclose(pooled[:, 0], [2.0, 5.0])


def test_mean_pool_empty_mask_raises():
    with pytest.raises(InsufficientDataError, match="no real token"):
        mean_pool(np.ones((3, 2)), np.zeros(3, dtype=bool))


def test_mean_pool_mask_shape_mismatch_raises():
    with pytest.raises(ValueError, match="mask shape"):
        mean_pool(np.ones((3, 2)), np.ones(4, dtype=bool))


def test_cosine_identical_rows_one():
    features = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])

    np.testing.assert_allclose(cosine_similarity_matrix(features), np.ones((2, 2)))


def test_cosine_orthogonal_and_opposite():
    features = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])

    similarity = cosine_similarity_matrix(features)

    assert similarity[0, 1] == pytest.approx(0.0)
    assert similarity[0, 2] == pytest.approx(-1.0)
    assert similarity[1, 2] == pytest.approx(0.0)


def test_cosine_zero_row_is_nan():
    similarity = cosine_similarity_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]))

    assert np.isnan(similarity[0, 1])
    assert np.isnan(similarity[0, 0])
    assert similarity[1, 1] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(feature_matrices)
def test_cosine_matrix_symmetric_in_range(features):
    similarity = cosine_similarity_matrix(features)

    np.testing.assert_allclose(similarity, similarity.T)
    assert np.all(similarity >= -1.0)
    assert np.all(similarity <= 1.0)
    np.testing.assert_allclose(np.diag(similarity), 1.0)


@settings(max_examples=60, deadline=None)
@given(feature_matrices, st.lists(st.floats(0.01, 1000.0), min_size=6, max_size=6))
def test_cosine_invariant_positive_scaling(features, scales):
    scaled = features * np.asarray(scales[: features.shape[0]])[:, None]

    np.testing.assert_allclose(cosine_similarity_matrix(scaled), cosine_similarity_matrix(features), atol=1e-9)


def test_emotion_matrix_orthogonal_means():
    features = np.array([[0.0, 1.0], [0.0, 3.0], [2.0, 0.0], [4.0, 0.0]])
    labels = ["sad", "sad", "happy", "happy"]

    emotions, matrix = emotion_similarity_matrix(features, labels)

    assert emotions == ["happy", "sad"]
    assert matrix[0, 1] == pytest.approx(0.0)
    assert matrix[0, 0] == pytest.approx(1.0)


def test_emotion_matrix_label_count_mismatch():
    with pytest.raises(ValueError, match="3 labels for 2 samples"):
        emotion_similarity_matrix(np.ones((2, 2)), ["a", "b", "c"])


def test_pairwise_groups_known_values():
    features = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    labels = ["happy", "happy", "sad", "sad"]

    summary = pairwise_similarity_by_group(features, labels)

    assert summary.within == pytest.approx({"happy": 1.0, "sad": 1.0})
    assert summary.between == pytest.approx({("happy", "sad"): 0.0})
    assert summary.within_values.size == 2
    assert summary.between_values.size == 4


def test_effect_separated_clusters_positive():
    features, labels = planted_clusters(n_per_emotion=10, n_dims=8, separation=3.0, noise=0.3, seed=1)

    effect = between_within_effect(features, labels)

    assert effect["difference"] > 0.3
    assert effect["cohens_d"] > 2.0
    assert effect["difference"] == pytest.approx(effect["within"] - effect["between"])
    assert effect["n_within_pairs"] == 3 * 45
    assert effect["n_between_pairs"] == 3 * 100


def test_effect_shuffled_labels_near_zero():
    features, labels = planted_clusters(n_per_emotion=20, n_dims=8, separation=3.0, noise=0.3, seed=2)
    shuffled = list(np.random.default_rng(3).permutation(labels))

    planted_effect = between_within_effect(features, labels)
    shuffled_effect = between_within_effect(features, shuffled)

    assert abs(shuffled_effect["difference"]) < 0.15 * planted_effect["difference"]
    assert abs(shuffled_effect["cohens_d"]) < 0.3


def test_effect_identical_samples_undefined_d():
    features = np.tile([1.0, 2.0], (4, 1))

    effect = between_within_effect(features, ["a", "a", "b", "b"])

    assert effect["within"] == pytest.approx(1.0)
    assert effect["between"] == pytest.approx(1.0)
    assert effect["difference"] == pytest.approx(0.0)
    assert np.isnan(effect["cohens_d"])


def test_effect_one_sample_emotion_raises():
    features = np.eye(3)

    with pytest.raises(InsufficientDataError, match=r"'sad' has 1 sample.*--samples"):
        between_within_effect(features, ["happy", "happy", "sad"])


def test_effect_single_emotion_raises():
    with pytest.raises(InsufficientDataError, match="at least 2"):
        between_within_effect(np.eye(3), ["happy"] * 3)


def test_layer_curve_known_layers():
    # Layer 0: both emotions along x. Layer 1: orthogonal. Layer 2: opposite.
    happy = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    sad = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]])
    resid = np.stack([happy, happy, sad, sad])
    labels = ["happy", "happy", "sad", "sad"]

    curve = layer_similarity_curve(resid, labels)

    assert curve.shape == (3,)
    np.testing.assert_allclose(curve, [1.0, 0.0, -1.0], atol=1e-12)


def test_layer_curve_selected_pair():
    rng = np.random.default_rng(4)
    resid = rng.normal(size=(6, 2, 5))
    labels = ["a", "a", "b", "b", "c", "c"]
    resid[4:] = resid[:2]

    curve = layer_similarity_curve(resid, labels, pair=("a", "c"))

    np.testing.assert_allclose(curve, [1.0, 1.0])


def test_layer_curve_unknown_pair_raises():
    with pytest.raises(ValueError, match="not found"):
        layer_similarity_curve(np.ones((2, 1, 2)), ["a", "b"], pair=("a", "calm"))


def test_groups_sorted_indices():
    groups = emotion_groups(["sad", "happy", "sad"])

    assert list(groups) == ["happy", "sad"]
    np.testing.assert_array_equal(groups["sad"], [0, 2])


def test_between_within_ignores_diagonal():
    scores = np.full((4, 4), 5.0)
    np.fill_diagonal(scores, -100.0)

    summary = between_within_from_matrix(scores, ["a", "a", "b", "b"])

    assert summary.within_mean == pytest.approx(5.0)
    assert summary.between_mean == pytest.approx(5.0)
