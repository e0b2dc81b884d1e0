"""Input checks and random-state handling shared by the statistics modules."""

from __future__ import annotations

import numbers

import numpy as np

from emotion_hypotheses.errors import InsufficientDataError

RandomState = int | np.random.Generator


def to_generator(random_state: RandomState) -> np.random.Generator:
    """Convert an int seed or a Generator into a Generator.

    A Generator passes through unchanged, so callers that share one Generator
    across calls draw from one stream.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state

    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))

    raise TypeError(
        f"random_state must be an int or a numpy.random.Generator, got {random_state!r} "
        f"({type(random_state).__name__}); pass an int seed such as 0 for reproducible results."
    )


def sklearn_seed(rng: np.random.Generator) -> int:
    """Draw an int seed for scikit-learn, whose check_random_state rejects a Generator."""
    return int(rng.integers(0, 2**31 - 1))


def check_features(X, name: str = "X") -> np.ndarray:
    """Return X as a finite 2-D float array of shape (N, D)."""
    array = np.asarray(X, dtype=float)

    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape {array.shape}; "
            f"reshape it, for example with {name}.reshape(len({name}), -1)."
        )

    if not np.all(np.isfinite(array)):
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite values; remove or impute them before the analysis."
        )

    return array


def check_vector(values, n_samples: int, name: str) -> np.ndarray:
    """Return values as a 1-D array with one entry per sample."""
    array = np.asarray(values)

    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(
            f"{name} must be a 1-D array with one entry per sample ({n_samples}), got shape {array.shape}; "
            f"pass one {name} value for each row of the feature matrix."
        )

    return array


def check_n_permutations(n_permutations, *, allow_zero: bool) -> int:
    """Return n_permutations as an int, rejecting negative values (and zero unless allowed)."""
    minimum = 0 if allow_zero else 1

    if not isinstance(n_permutations, numbers.Integral) or isinstance(n_permutations, bool):
        raise TypeError(f"n_permutations must be an int, got {n_permutations!r}; pass for example 999.")

    if n_permutations < minimum:
        raise ValueError(
            f"n_permutations must be >= {minimum}, got {n_permutations}; "
            f"pass for example 999 (the smallest reachable p-value is 1 / (n_permutations + 1))."
        )

    return int(n_permutations)


def check_groups_allow_permutation(y: np.ndarray, groups: np.ndarray) -> None:
    """Raise when permuting y within groups cannot change any label.

    If every group contains a single distinct label, each within-group
    permutation reproduces y, every null value equals the observed one and the
    p-value is 1 whatever the data contain.
    """
    _, group_codes = np.unique(groups, return_inverse=True)
    _, label_codes = np.unique(y, return_inverse=True)

    mixed_groups = 0
    for group_code in np.unique(group_codes):
        if np.unique(label_codes[group_codes == group_code]).size > 1:
            mixed_groups += 1

    if mixed_groups == 0:
        n_groups = int(np.unique(group_codes).size)
        raise InsufficientDataError(
            f"each of the {n_groups} groups contains a single label, so permuting labels within groups "
            f"cannot change them and the permutation p-value would always be 1; "
            f"use groups (prompt templates) that each contain several emotions."
        )
