"""The dynamics level: how the decoder's residual stream moves over generation steps, per emotion.

Velocities are first differences of the residual stream over steps. The level compares the
between-emotion cosine of mean velocities with that of mean states, the variance over time
per emotion, and the per-step cosine between two emotions' mean trajectories. The trend of that
cosine shows whether the trajectories drift apart as generation proceeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.dynamics import (
    TrajectoryDivergence,
    static_similarity,
    temporal_variance,
    trajectory_divergence,
    velocity_similarity,
)
from ..analysis.groups import emotion_groups
from ..capture import names
from .common import contrast, json_safe
from .data import CaptureSet


@dataclass
class DynamicsLevel:
    """Static and velocity similarity per layer, temporal variance per emotion, and a trajectory divergence."""

    emotions: list[str]
    static: np.ndarray  # (L,) between-emotion cosine of mean states
    velocity: np.ndarray  # (L,) between-emotion cosine of mean velocities
    variance: dict[str, np.ndarray]  # emotion -> (n,) per-sample temporal variance, averaged over layers
    trajectory: TrajectoryDivergence

    def velocity_minus_static(self) -> float:
        """Return mean velocity similarity minus mean static similarity, over layers."""
        return float(np.mean(self.velocity) - np.mean(self.static))

    def variance_contrast(self, first: str, second: str) -> float:
        """Return the contrast of the mean temporal variance of ``first`` over that of ``second``."""
        for emotion in (first, second):
            if emotion not in self.variance:
                raise KeyError(f"emotion {emotion!r} is not in the prompt set; known: {', '.join(self.emotions)}")
        return contrast(float(np.mean(self.variance[first])), float(np.mean(self.variance[second])))

    def trajectory_drop(self) -> float:
        """Return the fitted change of the trajectory cosine over the whole generation, averaged over layers.

        This is the least-squares slope per step times the number of steps minus one.
        """
        return float(np.mean(self.trajectory.slope) * (self.trajectory.curve.shape[1] - 1))

    def details(self) -> dict:
        return json_safe({
            "emotions": self.emotions,
            "static_similarity_per_layer": self.static.tolist(),
            "velocity_similarity_per_layer": self.velocity.tolist(),
            "temporal_variance": {emotion: values.tolist() for emotion, values in self.variance.items()},
            "trajectory_pair": [self.trajectory.emotion_a, self.trajectory.emotion_b],
            "trajectory_first_step_cosine": float(np.mean(self.trajectory.first)),
            "trajectory_last_step_cosine": float(np.mean(self.trajectory.last)),
            "trajectory_slope_per_layer": self.trajectory.slope.tolist(),
        })

    def divergence_figure(self) -> dict:
        """Return the curve figure of the trajectory cosine per step, averaged over layers."""
        pair = f"{self.trajectory.emotion_a} vs {self.trajectory.emotion_b}"
        return {
            "name": "dynamics_trajectory_divergence", "kind": "curve",
            "series": {pair: self.trajectory.curve.mean(axis=0).tolist()},
            "xlabel": "generation step", "ylabel": "cosine of mean states (mean over layers)",
            "title": f"Trajectory similarity over steps, {pair}",
        }

    def variance_figure(self) -> dict:
        """Return the box plot of per-sample temporal variance by emotion."""
        return {
            "name": "dynamics_temporal_variance", "kind": "boxplot",
            "groups": {emotion: values.tolist() for emotion, values in self.variance.items()},
            "ylabel": "variance over steps (mean over layers and dimensions)",
            "title": "Temporal variance of the residual stream by emotion",
        }


def measure_dynamics_level(captures: CaptureSet, pair: tuple[str, str] = ("happy", "sad")) -> DynamicsLevel:
    """Compute velocity and static similarity, temporal variance and the ``pair`` trajectory divergence."""
    resid = captures.arrays(names.DECODER_RESID_POST)
    labels = captures.labels
    emotions = sorted(set(labels))
    missing = [emotion for emotion in pair if emotion not in emotions]
    if missing:
        raise KeyError(f"emotion(s) {missing} are not in the prompt set; known: {', '.join(emotions)}")

    per_sample_variance = np.array([float(np.mean(temporal_variance(array))) for array in resid])
    variance = {emotion: per_sample_variance[indices] for emotion, indices in emotion_groups(labels).items()}

    return DynamicsLevel(
        emotions=emotions,
        static=static_similarity(resid, labels),
        velocity=velocity_similarity(resid, labels),
        variance=variance,
        trajectory=trajectory_divergence(resid, labels, pair[0], pair[1]),
    )
