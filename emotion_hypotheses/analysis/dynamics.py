"""Compare how residual-stream states move over generation steps, between emotions.

The module offers:

- ``velocity``: first differences of a residual stream over steps.
- ``temporal_variance``: how much each layer's state changes over steps.
- ``emotion_mean_trajectories``: per-emotion mean residual streams.
- ``static_similarity`` and ``velocity_similarity``: per-layer cosine between emotions of the
  mean states and of the mean velocities, so that a signal carried by motion is not hidden
  behind similar states.
- ``trajectory_divergence``: the per-step cosine of two emotions' mean trajectories, with a
  slope and first-versus-last summary of whether they drift apart during generation.

A residual stream is ``(L, S, D)``: layers by generation steps by model width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from emotion_hypotheses.analysis.groups import as_labels, emotion_groups, require_emotions
from emotion_hypotheses.errors import InsufficientDataError


def _validate_resid(resid: np.ndarray, name: str = "resid") -> np.ndarray:
    resid = np.asarray(resid, dtype=np.float64)

    if resid.ndim != 3:
        raise ValueError(f"{name} must have shape (L, S, D), got shape {resid.shape}")

    return resid


def velocity(resid: np.ndarray) -> np.ndarray:
    """Compute the step-to-step change of a residual stream ``(L, S, D)`` as ``(L, S - 1, D)``.

    Entry ``[l, s]`` is state s + 1 minus state s at layer l, in the units of the residual
    stream per step. Raises InsufficientDataError when S < 2.
    """
    resid = _validate_resid(resid)

    if resid.shape[1] < 2:
        raise InsufficientDataError(
            f"resid has {resid.shape[1]} step(s), but a velocity needs at least 2. Generate longer audio"
        )

    return np.diff(resid, axis=1)


def temporal_variance(resid: np.ndarray) -> np.ndarray:
    """Compute each layer's variance over steps, averaged over dimensions, as an ``(L,)`` array.

    ``resid`` is ``(L, S, D)``. The value is in squared residual-stream units. 0 means the
    layer's state does not change during generation.
    """
    resid = _validate_resid(resid)

    return resid.var(axis=1).mean(axis=-1)


def emotion_mean_trajectories(
    resid_list: Sequence[np.ndarray],
    labels: Sequence[str],
) -> tuple[list[str], np.ndarray]:
    """Average residual streams per emotion and return (sorted emotions, ``(E, L, S, D)`` means).

    ``resid_list`` contains one ``(L, S, D)`` array per sample, all of the same shape. The
    sum is accumulated one sample at a time, so the samples are never stacked into one array.
    """
    label_list = as_labels(labels, len(resid_list))
    groups = emotion_groups(label_list)

    if not groups:
        raise InsufficientDataError("resid_list is empty. Capture at least one sample per emotion")

    shape = _validate_resid(resid_list[0], "resid_list[0]").shape
    means = np.zeros((len(groups), *shape))

    for row, indices in enumerate(groups.values()):
        for i in indices:
            resid = _validate_resid(resid_list[i], f"resid_list[{i}]")
            if resid.shape != shape:
                raise ValueError(
                    f"resid_list[{i}] has shape {resid.shape}, but resid_list[0] has {shape}. "
                    "Generate every sample with the same length"
                )
            means[row] += resid
        means[row] /= len(indices)

    return list(groups), means


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)

    return vectors / np.where(norms > 0, norms, np.nan)


def _per_step_pair_cosine(trajectories: np.ndarray, emotions: list[str], pair: tuple[str, str] | None) -> np.ndarray:
    """Return the (L, S) cosine between emotion trajectories ``(E, L, S, D)``, averaged over pairs."""
    if pair is None:
        pairs = list(combinations(range(len(emotions)), 2))
    else:
        missing = [emotion for emotion in pair if emotion not in emotions]
        if missing:
            raise ValueError(f"emotion(s) {missing} not found in labels. Choose from {emotions}")
        pairs = [(emotions.index(pair[0]), emotions.index(pair[1]))]

    unit = _unit(trajectories)
    cosines = [np.sum(unit[a] * unit[b], axis=-1) for a, b in pairs]

    return np.clip(np.mean(cosines, axis=0), -1.0, 1.0)


def static_similarity(
    resid_list: Sequence[np.ndarray],
    labels: Sequence[str],
    pair: tuple[str, str] | None = None,
) -> np.ndarray:
    """Compute the between-emotion cosine of mean states per layer, as an ``(L,)`` array.

    At each layer and step, the cosine between two emotions' mean states is taken. It is
    then averaged over steps, and over all emotion pairs unless ``pair=(a, b)`` selects one.
    Compare with ``velocity_similarity``: a lower velocity similarity means the emotions
    differ more in how the state moves than in where it is.
    """
    emotions, means = emotion_mean_trajectories(resid_list, labels)
    require_emotions(emotions)

    return np.nanmean(_per_step_pair_cosine(means, emotions, pair), axis=-1)


def velocity_similarity(
    resid_list: Sequence[np.ndarray],
    labels: Sequence[str],
    pair: tuple[str, str] | None = None,
) -> np.ndarray:
    """Compute the between-emotion cosine of mean velocities per layer, as an ``(L,)`` array.

    Same reduction as ``static_similarity``, applied to step-to-step changes. The velocity
    of the emotion mean equals the mean of the velocities, because differencing is linear.
    Steps where a mean velocity is zero have no direction and are skipped.
    """
    emotions, means = emotion_mean_trajectories(resid_list, labels)
    require_emotions(emotions)

    velocities = np.stack([velocity(mean) for mean in means])

    cosines = _per_step_pair_cosine(velocities, emotions, pair)

    if np.all(np.isnan(cosines)):
        raise InsufficientDataError(
            "every mean velocity is zero, so no velocity direction is defined. "
            "Check that the captured states change over steps"
        )

    return np.nanmean(cosines, axis=-1)


@dataclass(frozen=True)
class TrajectoryDivergence:
    """Per-step cosine between two emotions' mean trajectories and how it changes over steps.

    ``curve`` is ``(L, S)``. ``slope`` is the least-squares slope of each layer's curve in
    cosine per step (negative when the emotions drift apart). ``first``, ``last`` and
    ``change`` (last - first) are ``(L,)`` arrays.
    """

    emotion_a: str
    emotion_b: str
    curve: np.ndarray
    slope: np.ndarray
    first: np.ndarray
    last: np.ndarray
    change: np.ndarray


def trajectory_divergence(
    resid_list: Sequence[np.ndarray],
    labels: Sequence[str],
    emotion_a: str,
    emotion_b: str,
) -> TrajectoryDivergence:
    """Compute the per-step cosine between two emotions' mean residual streams and its trend.

    ``resid_list`` contains one ``(L, S, D)`` array per sample. The curve is a similarity:
    1 means the two mean states point the same way at that layer and step. A curve that
    falls over steps (negative slope, negative change) means the trajectories diverge as
    generation proceeds. Raises InsufficientDataError when S < 2, because a trend needs two steps.
    """
    emotions, means = emotion_mean_trajectories(resid_list, labels)
    curve = _per_step_pair_cosine(means, emotions, (emotion_a, emotion_b))

    n_steps = curve.shape[1]
    if n_steps < 2:
        raise InsufficientDataError(
            f"the trajectories have {n_steps} step(s), but a trend needs at least 2. Generate longer audio"
        )

    if np.isnan(curve).any():
        raise InsufficientDataError(
            f"a mean state of {emotion_a!r} or {emotion_b!r} is the zero vector, so its cosine is undefined. "
            "Check that the capture recorded the residual stream"
        )

    steps = np.arange(n_steps, dtype=np.float64)
    slope = np.polyfit(steps, curve.T, deg=1)[0]

    return TrajectoryDivergence(
        emotion_a=emotion_a,
        emotion_b=emotion_b,
        curve=curve,
        slope=slope,
        first=curve[:, 0],
        last=curve[:, -1],
        change=curve[:, -1] - curve[:, 0],
    )
