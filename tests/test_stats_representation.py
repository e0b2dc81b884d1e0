"""Tests for anisotropy-corrected cosine, the within/between similarity effect, linear CKA and RSA."""

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import cosine_similarity

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats.representation import (
    between_within_effect,
    centered_cosine,
    cka_permutation_test,
    linear_cka,
    rsa,
    standardized_cosine,
)

FAST = settings(max_examples=30, deadline=None, database=None)


def clustered(rng, n_per_class=8, n_classes=3, n_features=10, spread=3.0):
    """Return features with one cluster per label and the labels."""
    y = np.repeat(np.arange(n_classes), n_per_class)
    centres = rng.normal(size=(n_classes, n_features)) * spread
    return centres[y] + rng.normal(size=(y.size, n_features)), y


@st.composite
def feature_matrices(draw, min_rows=4, max_rows=12, min_columns=2, max_columns=6):
    """Draw a well-conditioned random feature matrix from a seed."""
    rows = draw(st.integers(min_rows, max_rows))
    columns = draw(st.integers(min_columns, max_columns))
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).normal(size=(rows, columns))


@st.composite
def matrix_pairs(draw):
    """Draw two feature matrices with the same number of rows and independent widths."""
    rows = draw(st.integers(4, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(rows, draw(st.integers(2, 6))))
    Y = rng.normal(size=(rows, draw(st.integers(1, 6))))
    return X, Y


def feature_space_cka(X, Y):
    """Compute linear CKA in the feature-space form ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)."""
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    return np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))


@FAST
@given(X=feature_matrices(), offset=arrays(float, 6, elements=st.floats(-1e3, 1e3)))
def test_centered_cosine_invariant_to_constant_shift(X, offset):
    shifted = X + offset[: X.shape[1]]

    np.testing.assert_allclose(centered_cosine(shifted), centered_cosine(X), atol=1e-7)


@FAST
@given(X=feature_matrices(), scales=arrays(float, 6, elements=st.floats(0.01, 100)))
def test_standardized_cosine_invariant_to_dimension_scaling(X, scales):
    scaled = X * scales[: X.shape[1]] + 5.0

    np.testing.assert_allclose(standardized_cosine(scaled), standardized_cosine(X), atol=1e-7)


def test_centered_cosine_removes_common_direction():
    rng = np.random.default_rng(0)
    X = 50.0 + rng.normal(size=(30, 8))
    off_diagonal = ~np.eye(30, dtype=bool)

    raw = cosine_similarity(X)[off_diagonal]
    centred = centered_cosine(X)[off_diagonal]

    assert raw.mean() > 0.99
    assert abs(centred.mean()) < 0.1


def test_centered_cosine_rejects_single_sample():
    with pytest.raises(InsufficientDataError, match="at least 2 samples"):
        centered_cosine(np.ones((1, 3)))


def test_between_within_planted_clusters():
    rng = np.random.default_rng(1)
    X, y = clustered(rng)
    n_permutations = 99

    effect = between_within_effect(centered_cosine(X), y, n_permutations=n_permutations, random_state=1)

    assert effect.within > effect.between
    assert effect.difference == pytest.approx(effect.within - effect.between)
    assert effect.pvalue == pytest.approx(1 / (n_permutations + 1))


def test_between_within_noise_not_small():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(24, 10))
    y = np.repeat(np.arange(3), 8)

    effect = between_within_effect(centered_cosine(X), y, n_permutations=99, random_state=2)

    assert effect.pvalue > 0.1


def test_between_within_hand_computed_means():
    S = np.array(
        [
            [1.0, 0.8, 0.1, 0.2],
            [0.8, 1.0, 0.3, 0.0],
            [0.1, 0.3, 1.0, 0.6],
            [0.2, 0.0, 0.6, 1.0],
        ]
    )
    y = np.array(["a", "a", "b", "b"])

    effect = between_within_effect(S, y, n_permutations=9)

    assert effect.within == pytest.approx((0.8 + 0.6) / 2)
    assert effect.between == pytest.approx((0.1 + 0.2 + 0.3 + 0.0) / 4)


def test_between_within_rejects_all_distinct_labels():
    with pytest.raises(InsufficientDataError, match="same-emotion pair"):
        between_within_effect(np.eye(3), np.array(["a", "b", "c"]))


def test_between_within_rejects_asymmetric_matrix():
    S = np.array([[1.0, 0.2], [0.5, 1.0]])

    with pytest.raises(ValueError, match="symmetric"):
        between_within_effect(S, np.array(["a", "b"]))


@FAST
@given(pair=matrix_pairs())
def test_cka_symmetric_and_bounded(pair):
    X, Y = pair

    forward = linear_cka(X, Y)
    backward = linear_cka(Y, X)

    assert forward == pytest.approx(backward)
    assert 0 <= forward <= 1


@FAST
@given(X=feature_matrices())
def test_cka_self_is_one(X):
    assert linear_cka(X, X) == pytest.approx(1.0)


@FAST
@given(pair=matrix_pairs(), scale=st.floats(0.01, 100))
def test_cka_invariant_to_isotropic_scaling(pair, scale):
    X, Y = pair

    assert linear_cka(X * scale, Y) == pytest.approx(linear_cka(X, Y))


@FAST
@given(pair=matrix_pairs(), seed=st.integers(0, 2**16))
def test_cka_invariant_to_orthogonal_rotation(pair, seed):
    X, Y = pair
    rotation = scipy.stats.ortho_group.rvs(X.shape[1], random_state=seed)

    assert linear_cka(X @ rotation, Y) == pytest.approx(linear_cka(X, Y))


@FAST
@given(pair=matrix_pairs())
def test_cka_matches_feature_space_formula(pair):
    X, Y = pair

    assert linear_cka(X, Y) == pytest.approx(feature_space_cka(X, Y))


def test_cka_not_invariant_to_anisotropic_scaling():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 4))
    stretched = X * np.array([10.0, 1.0, 1.0, 1.0])

    assert linear_cka(X, stretched) < 0.99


def test_cka_rejects_constant_representation():
    with pytest.raises(ValueError, match="no variance"):
        linear_cka(np.ones((5, 3)), np.random.default_rng(0).normal(size=(5, 3)))


def test_cka_permutation_linear_map_at_floor():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 6))
    Y = X @ rng.normal(size=(6, 9)) + 0.1 * rng.normal(size=(30, 9))
    n_permutations = 99

    result = cka_permutation_test(X, Y, n_permutations=n_permutations, random_state=4)

    assert result.observed > 0.5
    assert result.pvalue == pytest.approx(1 / (n_permutations + 1))


def test_cka_permutation_independent_not_small():
    rng = np.random.default_rng(5)

    result = cka_permutation_test(rng.normal(size=(30, 6)), rng.normal(size=(30, 9)), n_permutations=99)

    assert result.pvalue > 0.1


def test_rsa_clusters_match_label_model():
    rng = np.random.default_rng(6)
    X, y = clustered(rng)
    n_permutations = 99

    result = rsa(X, y, n_permutations=n_permutations, random_state=6)

    assert result.rho > 0.3
    assert result.pvalue == pytest.approx(1 / (n_permutations + 1))


def test_rsa_rho_equals_scipy_spearman():
    rng = np.random.default_rng(7)
    X, y = clustered(rng, spread=0.5)
    model = pdist(y[:, None], metric=lambda a, b: float(a[0] != b[0]))

    result = rsa(X, y, n_permutations=9)
    expected = scipy.stats.spearmanr(pdist(X, metric="cosine"), model).statistic

    assert result.rho == pytest.approx(expected)


def test_rsa_square_model_matches_labels():
    rng = np.random.default_rng(8)
    X, y = clustered(rng, spread=0.5)
    model_square = (y[:, None] != y[None, :]).astype(float)

    from_labels = rsa(X, y, n_permutations=49, random_state=8)
    from_square = rsa(X, model_square, n_permutations=49, random_state=8)

    assert from_square.rho == pytest.approx(from_labels.rho)
    assert from_square.pvalue == pytest.approx(from_labels.pvalue)


def test_rsa_noise_not_small():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(24, 10))
    y = np.repeat(np.arange(3), 8)

    result = rsa(X, y, n_permutations=99, random_state=9)

    assert result.pvalue > 0.1


def test_rsa_rejects_single_label():
    X = np.random.default_rng(0).normal(size=(6, 3))

    with pytest.raises(InsufficientDataError, match="constant"):
        rsa(X, np.zeros(6))
