"""Tests for emotion_hypotheses.analysis.dynamics."""

import numpy as np
import pytest

from emotion_hypotheses.analysis.dynamics import (
    emotion_mean_trajectories,
    static_similarity,
    temporal_variance,
    trajectory_divergence,
    velocity,
    velocity_similarity,
)
from emotion_hypotheses.errors import InsufficientDataError

N_LAYERS = 3
N_STEPS = 10
WIDTH = 6


def ramp(start, step_direction, n_steps=N_STEPS, n_layers=N_LAYERS):
    """Return an (L, S, D) residual stream that moves by ``step_direction`` each step from ``start``."""
    steps = np.arange(n_steps)[:, None]
    trajectory = start[None, :] + steps * step_direction[None, :]
    return np.repeat(trajectory[None], n_layers, axis=0)


def unit_vector(index):
    vector = np.zeros(WIDTH)
    vector[index] = 1.0
    return vector


def diverging_emotions(offset_size=10.0, speed=1.0, n_per_emotion=2):
    """Return trajectories that start at one shared offset and move in orthogonal directions."""
    offset = offset_size * unit_vector(0)
    happy = [ramp(offset, speed * unit_vector(1)) for _ in range(n_per_emotion)]
    sad = [ramp(offset, speed * unit_vector(2)) for _ in range(n_per_emotion)]
    labels = ["happy"] * n_per_emotion + ["sad"] * n_per_emotion
    return happy + sad, labels


def test_velocity_linear_ramp_constant():
    direction = np.array([0.5, -1.0, 2.0, 0.0, 0.0, 3.0])
    resid = ramp(np.ones(WIDTH), direction)

    result = velocity(resid)

    assert result.shape == (N_LAYERS, N_STEPS - 1, WIDTH)
    np.testing.assert_allclose(result, np.broadcast_to(direction, result.shape))


def test_velocity_one_step_raises():
    with pytest.raises(InsufficientDataError, match="1 step"):
        velocity(np.zeros((2, 1, 4)))


def test_velocity_wrong_rank_raises():
    with pytest.raises(ValueError, match=r"\(L, S, D\)"):
        velocity(np.zeros((4, 4)))


def test_temporal_variance_constant_zero():
    resid = np.ones((N_LAYERS, N_STEPS, WIDTH))

    np.testing.assert_allclose(temporal_variance(resid), np.zeros(N_LAYERS))


def test_temporal_variance_ramp_formula():
    # A ramp 0, c, 2c, ... over S steps in one of D dimensions has variance c^2 (S^2 - 1) / 12 there.
    speed = 2.0
    resid = ramp(np.zeros(WIDTH), speed * unit_vector(3))

    expected = speed**2 * (N_STEPS**2 - 1) / 12 / WIDTH

    np.testing.assert_allclose(temporal_variance(resid), np.full(N_LAYERS, expected))


def test_mean_trajectories_average():
    first = np.zeros((1, 2, 2))
    second = np.full((1, 2, 2), 4.0)

    emotions, means = emotion_mean_trajectories([first, second, second], ["a", "a", "b"])

    assert emotions == ["a", "b"]
    np.testing.assert_allclose(means[0], 2.0)
    np.testing.assert_allclose(means[1], 4.0)


def test_mean_trajectories_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same length"):
        emotion_mean_trajectories([np.zeros((1, 2, 2)), np.zeros((1, 3, 2))], ["a", "b"])


def test_static_high_velocity_orthogonal():
    resid_list, labels = diverging_emotions(offset_size=50.0, speed=1.0)

    static = static_similarity(resid_list, labels)
    moving = velocity_similarity(resid_list, labels)

    assert static.shape == (N_LAYERS,)
    assert np.all(static > 0.9)
    np.testing.assert_allclose(moving, 0.0, atol=1e-12)


def test_velocity_similarity_same_motion_one():
    offset_happy = 5.0 * unit_vector(0)
    offset_sad = 5.0 * unit_vector(1)
    shared_direction = unit_vector(2)
    resid_list = [ramp(offset_happy, shared_direction)] * 2 + [ramp(offset_sad, shared_direction)] * 2
    labels = ["happy", "happy", "sad", "sad"]

    np.testing.assert_allclose(velocity_similarity(resid_list, labels), 1.0)
    assert np.all(static_similarity(resid_list, labels) < 0.9)


def test_velocity_similarity_static_states_raise():
    resid_list = [np.ones((2, 4, 3))] * 4

    with pytest.raises(InsufficientDataError, match="velocity is zero"):
        velocity_similarity(resid_list, ["a", "a", "b", "b"])


def test_trajectory_divergence_matches_formula():
    offset_size = 4.0
    resid_list, labels = diverging_emotions(offset_size=offset_size, speed=1.0)

    result = trajectory_divergence(resid_list, labels, "happy", "sad")

    # States offset + s e1 and offset + s e2 with orthogonal offset, e1, e2 have cosine |o|^2 / (|o|^2 + s^2).
    steps = np.arange(N_STEPS)
    expected = offset_size**2 / (offset_size**2 + steps**2)
    assert result.curve.shape == (N_LAYERS, N_STEPS)
    np.testing.assert_allclose(result.curve, np.broadcast_to(expected, result.curve.shape))
    np.testing.assert_allclose(result.first, 1.0)
    np.testing.assert_allclose(result.change, expected[-1] - 1.0)
    assert np.all(result.slope < 0)


def test_trajectory_parallel_flat():
    direction = unit_vector(1)
    resid_list = [ramp(unit_vector(0), direction)] * 2 + [ramp(2.0 * unit_vector(0), 2.0 * direction)] * 2

    result = trajectory_divergence(resid_list, ["a", "a", "b", "b"], "a", "b")

    np.testing.assert_allclose(result.curve, 1.0)
    np.testing.assert_allclose(result.slope, 0.0, atol=1e-12)


def test_trajectory_unknown_emotion_raises():
    resid_list, labels = diverging_emotions()

    with pytest.raises(ValueError, match="not found"):
        trajectory_divergence(resid_list, labels, "happy", "tender")


def test_trajectory_zero_state_raises():
    resid_list = [np.zeros((1, 3, 2)), np.ones((1, 3, 2))]

    with pytest.raises(InsufficientDataError, match="zero vector"):
        trajectory_divergence(resid_list, ["a", "b"], "a", "b")
