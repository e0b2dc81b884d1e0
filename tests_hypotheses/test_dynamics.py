"""Level 5, dynamics: is emotion in how the activations move rather than where they are?

The research note saw the happy-sad similarity fall from 0.956 to 0.929 over generation and
predicts more variance over time for happy than for sad music. If emotion lives in the
dynamics, velocities differ between emotions more than states do.
"""

import pytest

pytestmark = pytest.mark.dynamics


def test_velocity_less_similar_than_state(dynamics_level, verdict):
    verdict.check(
        "dynamics", "velocity_vs_static", dynamics_level.velocity_minus_static(), details=dynamics_level.details(),
    )


def test_happy_varies_more_than_sad(dynamics_level, verdict):
    verdict.check(
        "dynamics", "happy_sad_variance", dynamics_level.variance_contrast("happy", "sad"),
        details=dynamics_level.details(), figures=[dynamics_level.variance_figure()],
    )


def test_trajectories_diverge_over_steps(dynamics_level, verdict):
    verdict.check(
        "dynamics", "trajectory_divergence", dynamics_level.trajectory_drop(),
        details=dynamics_level.details(), figures=[dynamics_level.divergence_figure()],
    )
