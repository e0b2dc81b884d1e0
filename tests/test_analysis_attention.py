"""Tests for emotion_hypotheses.analysis.attention."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emotion_hypotheses.analysis.attention import (
    attention_between_within,
    attention_divergence,
    attention_row_divergence,
    emotion_word_mass,
    mean_emotion_word_mass,
)
from emotion_hypotheses.errors import InsufficientDataError


def one_hot_attention(token, n_layers=2, n_heads=3, n_steps=4, n_tokens=5):
    """Return (L, H, S, T) attention where every row puts all mass on one token."""
    weights = np.zeros((n_layers, n_heads, n_steps, n_tokens))
    weights[..., token] = 1.0
    return weights


def attention_with_word_mass(rng, word_mass, word_mask, n_layers=2, n_heads=2, n_steps=6, noise=0.02):
    """Return attention whose rows put about ``word_mass`` on the masked tokens, spread evenly."""
    n_tokens = word_mask.size
    mass = np.clip(word_mass + rng.normal(0.0, noise, size=(n_layers, n_heads, n_steps, 1)), 0.01, 0.99)

    weights = np.where(word_mask, mass / word_mask.sum(), (1.0 - mass) / (n_tokens - word_mask.sum()))

    return weights


row_distributions = arrays(np.float64, (1, 2, 3, 4), elements=st.floats(0.0, 1.0, allow_nan=False)).filter(
    lambda weights: np.all(weights.sum(axis=-1) > 1e-3)
)


def test_word_mass_uniform_rows():
    weights = np.full((2, 3, 4, 4), 0.25)
    word_mask = np.array([False, True, False, False])

    mass = emotion_word_mass(weights, word_mask)

    assert mass.shape == (2, 3, 4)
    np.testing.assert_allclose(mass, 0.25)


def test_word_mass_two_tokens():
    weights = np.zeros((1, 1, 1, 4))
    weights[0, 0, 0] = [0.1, 0.2, 0.3, 0.4]

    mass = emotion_word_mass(weights, np.array([False, True, True, False]))

    assert mass[0, 0, 0] == pytest.approx(0.5)


def test_word_mass_mask_shape_raises():
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        emotion_word_mass(np.full((1, 1, 1, 4), 0.25), np.array([True, False]))


def test_mean_word_mass_per_emotion():
    word_mask = np.array([True, False, False, False])
    low = np.full((1, 2, 3, 4), 0.25)
    high = np.zeros((1, 2, 3, 4))
    high[..., 0] = 1.0

    means = mean_emotion_word_mass([low, high, high], [word_mask] * 3, ["calm", "angry", "angry"])

    np.testing.assert_allclose(means["calm"], np.full((1, 2), 0.25))
    np.testing.assert_allclose(means["angry"], np.ones((1, 2)))


def test_divergence_identical_zero():
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=(2, 3, 4))

    assert attention_divergence(weights, weights) == pytest.approx(0.0, abs=1e-12)


def test_divergence_disjoint_rows_one():
    assert attention_divergence(one_hot_attention(0), one_hot_attention(1)) == pytest.approx(1.0)


def test_divergence_truncates_steps():
    weights_a = one_hot_attention(0, n_steps=4)
    weights_b = one_hot_attention(0, n_steps=7)

    rows = attention_row_divergence(weights_a, weights_b)

    assert rows.shape == (2, 3, 4)
    np.testing.assert_allclose(rows, 0.0, atol=1e-12)


def test_divergence_token_count_mismatch_raises():
    with pytest.raises(ValueError, match="word_mask_a and word_mask_b"):
        attention_divergence(one_hot_attention(0, n_tokens=5), one_hot_attention(0, n_tokens=6))


def test_divergence_word_masks_any_length():
    weights_a = one_hot_attention(1, n_tokens=5)
    weights_b = one_hot_attention(3, n_tokens=7)
    mask_a = np.array([False, True, False, False, False])
    mask_b = np.array([False, False, False, True, False, False, False])
    mask_b_elsewhere = np.array([True, False, False, False, False, False, False])

    same_focus = attention_divergence(weights_a, weights_b, mask_a, mask_b)
    opposite_focus = attention_divergence(weights_a, weights_b, mask_a, mask_b_elsewhere)

    assert same_focus == pytest.approx(0.0, abs=1e-12)
    assert opposite_focus == pytest.approx(1.0)


def test_divergence_one_mask_raises():
    with pytest.raises(ValueError, match="both word masks"):
        attention_divergence(one_hot_attention(0), one_hot_attention(0), word_mask_a=np.ones(5, dtype=bool))


def test_divergence_skips_zero_rows():
    weights_a = one_hot_attention(0)
    weights_b = one_hot_attention(1)
    weights_a[0] = 0.0
    weights_b[1] = 1.0 / 5
    weights_a[1] = 1.0 / 5

    # Layer 0 has zero mass in a and is skipped, layer 1 rows are identical.
    assert attention_divergence(weights_a, weights_b) == pytest.approx(0.0, abs=1e-12)


def test_divergence_all_zero_raises():
    zeros = np.zeros((1, 1, 2, 3))

    with pytest.raises(InsufficientDataError, match="zero total mass"):
        attention_divergence(zeros, zeros)


@settings(max_examples=60, deadline=None)
@given(row_distributions, row_distributions)
def test_divergence_symmetric_in_unit_range(weights_a, weights_b):
    forward = attention_divergence(weights_a, weights_b)
    backward = attention_divergence(weights_b, weights_a)

    assert forward == pytest.approx(backward, abs=1e-12)
    assert 0.0 <= forward <= 1.0


def test_between_within_planted_word_focus():
    rng = np.random.default_rng(1)
    word_mask = np.array([False, True, False, False, False, False])
    weights = [attention_with_word_mass(rng, 0.8, word_mask) for _ in range(4)]
    weights += [attention_with_word_mass(rng, 0.2, word_mask) for _ in range(4)]
    labels = ["angry"] * 4 + ["calm"] * 4

    summary = attention_between_within(weights, labels)

    assert summary.between_mean > 0.2
    assert summary.within_mean < 0.01
    assert summary.between_values.size == 16


def test_between_within_shuffled_labels_close():
    rng = np.random.default_rng(2)
    word_mask = np.array([True, False, False, False, False])
    weights = [attention_with_word_mass(rng, 0.8, word_mask) for _ in range(6)]
    weights += [attention_with_word_mass(rng, 0.2, word_mask) for _ in range(6)]
    labels = ["angry", "calm"] * 6

    summary = attention_between_within(weights, labels, word_masks=[word_mask] * 12)

    assert abs(summary.between_mean - summary.within_mean) < 0.25 * summary.between_mean


def test_between_within_one_sample_raises():
    weights = [one_hot_attention(0)] * 3

    with pytest.raises(InsufficientDataError, match=r"'calm' has 1 sample"):
        attention_between_within(weights, ["angry", "angry", "calm"])
