"""Tests for emotion_hypotheses.analysis.tokens."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon

from emotion_hypotheses.analysis.tokens import (
    codebook_histograms,
    jensen_shannon,
    sequence_similarity,
    token_distribution_divergence,
    used_token_jaccard,
)
from emotion_hypotheses.errors import InsufficientDataError

VOCAB = 16

distributions = arrays(np.float64, 6, elements=st.floats(0.0, 10.0, allow_nan=False)).filter(lambda p: p.sum() > 1e-6)
code_matrices = arrays(np.int64, st.tuples(st.integers(1, 3), st.integers(1, 30)), elements=st.integers(0, VOCAB - 1))


def reference_js(p, q):
    """Jensen-Shannon divergence in bits, written out from its definition for comparison."""
    p = np.asarray(p, dtype=float) / np.sum(p)
    q = np.asarray(q, dtype=float) / np.sum(q)
    m = 0.5 * (p + q)

    def kl(a, b):
        support = a > 0
        return np.sum(a[support] * np.log2(a[support] / b[support]))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def codes_from(rng, tokens, n_codebooks=2, n_frames=64):
    """Draw a (K, F) code matrix uniformly from the given token ids."""
    return rng.choice(tokens, size=(n_codebooks, n_frames))


def test_histograms_known_counts():
    codes = np.array([[0, 0, 1, 3], [2, 2, 2, 2]])

    histograms = codebook_histograms(codes, vocab_size=4)

    np.testing.assert_allclose(histograms[0], [0.5, 0.25, 0.0, 0.25])
    np.testing.assert_allclose(histograms[1], [0.0, 0.0, 1.0, 0.0])


def test_histograms_out_of_range_raises():
    with pytest.raises(ValueError, match="outside"):
        codebook_histograms(np.array([[0, 4]]), vocab_size=4)


def test_histograms_zero_frames_raises():
    with pytest.raises(InsufficientDataError, match="0 frames"):
        codebook_histograms(np.zeros((2, 0), dtype=int), vocab_size=4)


def test_js_identical_zero():
    p = np.array([0.2, 0.3, 0.5])

    assert jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)


def test_js_rescaled_identical_zero():
    # Rescaled copies normalize to the same distribution. jensenshannon in scipy 1.17.1 returns NaN here.
    assert jensen_shannon(np.ones(6), np.full(6, 1.62651722)) == pytest.approx(0.0, abs=1e-12)


def test_js_matches_scipy_distance():
    p = np.array([0.1, 0.4, 0.5, 0.0])
    q = np.array([0.3, 0.3, 0.2, 0.2])

    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2)


def test_js_disjoint_support_one():
    assert jensen_shannon([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0]) == pytest.approx(1.0)


def test_js_matches_definition():
    p = np.array([1.0, 0.0])
    q = np.array([0.5, 0.5])

    assert jensen_shannon(p, q) == pytest.approx(reference_js(p, q))
    assert jensen_shannon(p, q) == pytest.approx(0.3112781, abs=1e-6)


def test_js_rowwise_shape():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[0.0, 1.0], [0.5, 0.5]])

    divergence = jensen_shannon(p, q)

    assert divergence.shape == (2,)
    np.testing.assert_allclose(divergence, [1.0, 0.0], atol=1e-12)


def test_js_zero_row_nan():
    assert np.isnan(jensen_shannon([0.0, 0.0], [1.0, 0.0]))


def test_js_negative_raises():
    with pytest.raises(ValueError, match="non-negative"):
        jensen_shannon([-1.0, 2.0], [1.0, 0.0])


@settings(max_examples=80, deadline=None)
@given(distributions, distributions)
def test_js_symmetric_in_unit_range(p, q):
    forward = jensen_shannon(p, q)
    backward = jensen_shannon(q, p)

    assert forward == pytest.approx(backward, abs=1e-12)
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(reference_js(p, q), abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(code_matrices, code_matrices, st.permutations(list(range(VOCAB))))
def test_js_invariant_token_permutation(codes_a, codes_b, permutation):
    n_codebooks = min(codes_a.shape[0], codes_b.shape[0])
    codes_a = codes_a[:n_codebooks]
    codes_b = codes_b[:n_codebooks]
    relabel = np.asarray(permutation)

    original = jensen_shannon(codebook_histograms(codes_a, VOCAB), codebook_histograms(codes_b, VOCAB))
    relabeled = jensen_shannon(
        codebook_histograms(relabel[codes_a], VOCAB),
        codebook_histograms(relabel[codes_b], VOCAB),
    )

    np.testing.assert_allclose(relabeled, original, atol=1e-12)


def test_divergence_disjoint_emotions_between_one():
    rng = np.random.default_rng(0)
    codes = [codes_from(rng, np.arange(0, 8)) for _ in range(6)] + [codes_from(rng, np.arange(8, 16)) for _ in range(6)]
    labels = ["happy"] * 6 + ["sad"] * 6

    result = token_distribution_divergence(codes, labels, VOCAB)

    assert result.emotions == ("happy", "sad")
    assert result.samples_per_half == 3
    np.testing.assert_allclose(result.between[("happy", "sad")], [1.0, 1.0])
    assert np.all(result.within_mean < 0.1)


def test_divergence_identical_codes_zero():
    codes = [np.array([[0, 1, 2, 3], [4, 4, 5, 5]])] * 4

    result = token_distribution_divergence(codes, ["a", "a", "b", "b"], vocab_size=8)

    np.testing.assert_allclose(result.within_mean, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.between_mean, [0.0, 0.0], atol=1e-12)


def test_divergence_shuffled_labels_between_near_within():
    rng = np.random.default_rng(1)
    codes = [codes_from(rng, np.arange(0, 8)) for _ in range(20)]
    codes += [codes_from(rng, np.arange(8, 16)) for _ in range(20)]
    labels = ["happy"] * 20 + ["sad"] * 20
    shuffled = list(rng.permutation(labels))

    planted = token_distribution_divergence(codes, labels, VOCAB)
    null = token_distribution_divergence(codes, shuffled, VOCAB)

    planted_gap = planted.between_mean - planted.within_mean
    null_gap = null.between_mean - null.within_mean
    assert np.all(planted_gap > 0.8)
    assert np.all(np.abs(null_gap) < 0.1)


def test_divergence_same_distribution_between_near_within():
    rng = np.random.default_rng(2)
    codes = [codes_from(rng, np.arange(VOCAB)) for _ in range(24)]
    labels = ["a", "b", "c"] * 8

    result = token_distribution_divergence(codes, labels, VOCAB)

    np.testing.assert_allclose(result.between_mean, result.within_mean, atol=0.03)


def test_divergence_equal_pool_sizes():
    rng = np.random.default_rng(3)
    codes = [codes_from(rng, np.arange(VOCAB)) for _ in range(9)]
    labels = ["a"] * 7 + ["b"] * 2

    result = token_distribution_divergence(codes, labels, VOCAB)

    assert result.samples_per_half == 1


def test_divergence_one_sample_raises():
    codes = [np.zeros((1, 4), dtype=int)] * 3

    with pytest.raises(InsufficientDataError, match=r"'b' has 1 sample.*--samples"):
        token_distribution_divergence(codes, ["a", "a", "b"], vocab_size=2)


def test_divergence_codebook_mismatch_raises():
    codes = [np.zeros((1, 4), dtype=int), np.zeros((2, 4), dtype=int)]

    with pytest.raises(ValueError, match="codebooks"):
        token_distribution_divergence(codes, ["a", "b"], vocab_size=2)


def test_jaccard_known_sets():
    codes_a = np.array([[0, 1, 2, 2], [5, 5, 5, 5]])
    codes_b = np.array([[1, 2, 3], [6, 6, 6]])

    np.testing.assert_allclose(used_token_jaccard(codes_a, codes_b), [0.5, 0.0])


def test_jaccard_identical_one():
    codes = np.array([[3, 1, 4, 1, 5]])

    np.testing.assert_allclose(used_token_jaccard(codes, codes), [1.0])


def test_sequence_identical_all_one():
    codes = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])

    result = sequence_similarity(codes, codes)

    np.testing.assert_allclose(result["position_match"], [1.0, 1.0])
    np.testing.assert_allclose(result["bigram_jaccard"], [1.0, 1.0])


def test_sequence_shift_keeps_bigrams():
    codes_a = np.array([[0, 1, 2, 3, 4]])
    codes_b = np.array([[9, 0, 1, 2, 3, 4]])

    result = sequence_similarity(codes_a, codes_b)

    # Common length 5: b is [9, 0, 1, 2, 3], so no position matches, and the
    # bigrams {01, 12, 23, 34} and {90, 01, 12, 23} share 3 of 5.
    np.testing.assert_allclose(result["position_match"], [0.0])
    np.testing.assert_allclose(result["bigram_jaccard"], [3 / 5])


def test_sequence_partial_position_match():
    codes_a = np.array([[1, 2, 3, 4]])
    codes_b = np.array([[1, 0, 3, 0]])

    np.testing.assert_allclose(sequence_similarity(codes_a, codes_b)["position_match"], [0.5])


def test_sequence_one_frame_raises():
    with pytest.raises(InsufficientDataError, match="at least 2"):
        sequence_similarity(np.array([[1]]), np.array([[1, 2]]))
