"""Seed-split reproducibility: divide generation seeds into disjoint sets and measure how often each conclusion is true across them.

Running the whole analysis once per seed set and comparing the verdicts shows
whether a conclusion depends on which random seeds generated the audio.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats._validation import RandomState, to_generator


def split_seeds(seeds: Sequence[int], n_sets: int, random_state: RandomState = 0) -> list[list[int]]:
    """Shuffle seeds and divide them into n_sets disjoint sets whose sizes differ by at most one.

    Every seed lands in exactly one set, so the sets give independent
    replications of an analysis. The same random_state gives the same split.
    Raises InsufficientDataError when there are fewer seeds than sets.
    """
    if not isinstance(n_sets, numbers.Integral) or isinstance(n_sets, bool) or n_sets < 1:
        raise ValueError(f"n_sets must be an int >= 1, got {n_sets!r}; pass for example 2.")

    seed_list = [int(seed) for seed in seeds]
    if len(set(seed_list)) != len(seed_list):
        duplicates = sorted({seed for seed in seed_list if seed_list.count(seed) > 1})
        raise ValueError(f"seeds contain duplicates {duplicates}, so the sets could not be disjoint; pass distinct seeds.")

    if len(seed_list) < n_sets:
        raise InsufficientDataError(
            f"cannot split {len(seed_list)} seeds into {n_sets} non-empty sets; "
            f"pass at least {n_sets} seeds or lower n_sets."
        )

    rng = to_generator(random_state)
    shuffled = np.array(seed_list, dtype=np.int64)[rng.permutation(len(seed_list))]

    return [[int(seed) for seed in part] for part in np.array_split(shuffled, int(n_sets))]


def conclusions_agree(verdicts: Sequence[Mapping[str, bool]]) -> dict[str, float]:
    """Compute, for each conclusion, the fraction of seed sets in which it is true.

    verdicts has one dict per seed set, mapping each conclusion name to True
    when the conclusion is true in that set and to False otherwise. Every
    dict must name the same conclusions. A fraction of 1.0 or 0.0 means the
    sets agree, and values in between mean the conclusion depends on the
    seeds. With few sets, agreement is weak
    evidence, because two sets agree by chance half the time for a
    coin-flip conclusion.
    """
    if len(verdicts) == 0:
        raise InsufficientDataError("verdicts is empty; pass one dict of conclusions per seed set.")

    names = set(verdicts[0])
    for index, verdict in enumerate(verdicts):
        if set(verdict) != names:
            raise ValueError(
                f"verdicts[{index}] names {sorted(verdict)} but verdicts[0] names {sorted(names)}; "
                f"record the same conclusions for every seed set."
            )
        for name, value in verdict.items():
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"verdicts[{index}][{name!r}] must be a bool, got {value!r}; "
                    f"record whether the conclusion holds as True or False."
                )

    return {name: sum(bool(verdict[name]) for verdict in verdicts) / len(verdicts) for name in sorted(names)}
