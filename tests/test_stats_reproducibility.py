"""Tests for splitting seeds into disjoint sets and measuring agreement of conclusions across them."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats.reproducibility import conclusions_agree, split_seeds

FAST = settings(max_examples=50, deadline=None, database=None)


@FAST
@given(
    seeds=st.lists(st.integers(0, 10**6), min_size=1, max_size=40, unique=True),
    n_sets=st.integers(1, 8),
    random_state=st.integers(0, 2**16),
)
def test_split_seeds_disjoint_cover_balanced(seeds, n_sets, random_state):
    assume(len(seeds) >= n_sets)

    sets = split_seeds(seeds, n_sets, random_state)
    flattened = [seed for part in sets for seed in part]
    sizes = [len(part) for part in sets]

    assert len(sets) == n_sets
    assert sorted(flattened) == sorted(seeds)
    assert len(set(flattened)) == len(flattened)
    assert max(sizes) - min(sizes) <= 1
    assert min(sizes) >= 1


def test_split_seeds_reproducible():
    seeds = list(range(100, 120))

    assert split_seeds(seeds, 3, random_state=5) == split_seeds(seeds, 3, random_state=5)
    assert split_seeds(seeds, 3, random_state=5) != split_seeds(seeds, 3, random_state=6)


def test_split_seeds_accepts_generator():
    sets = split_seeds(range(10), 2, random_state=np.random.default_rng(0))

    assert all(isinstance(seed, int) for part in sets for seed in part)


def test_split_seeds_rejects_too_few_seeds():
    with pytest.raises(InsufficientDataError, match="2 seeds into 3"):
        split_seeds([1, 2], 3)


def test_split_seeds_rejects_duplicates():
    with pytest.raises(ValueError, match=r"duplicates \[4\]"):
        split_seeds([4, 4, 5], 2)


def test_split_seeds_rejects_none_random_state():
    with pytest.raises(TypeError, match="random_state"):
        split_seeds([1, 2, 3], 2, random_state=None)


def test_conclusions_agree_fractions():
    verdicts = [
        {"valence_in_layer_12": True, "arousal_lexical_only": False},
        {"valence_in_layer_12": True, "arousal_lexical_only": True},
        {"valence_in_layer_12": True, "arousal_lexical_only": False},
        {"valence_in_layer_12": False, "arousal_lexical_only": False},
    ]

    agreement = conclusions_agree(verdicts)

    assert agreement == {"arousal_lexical_only": 0.25, "valence_in_layer_12": 0.75}


def test_conclusions_agree_accepts_numpy_bools():
    agreement = conclusions_agree([{"a": np.bool_(True)}, {"a": np.bool_(True)}])

    assert agreement == {"a": 1.0}


def test_conclusions_agree_rejects_mismatched_names():
    with pytest.raises(ValueError, match="same conclusions"):
        conclusions_agree([{"a": True}, {"b": True}])


def test_conclusions_agree_rejects_non_bool():
    with pytest.raises(ValueError, match="must be a bool"):
        conclusions_agree([{"a": 0.03}])


def test_conclusions_agree_rejects_empty():
    with pytest.raises(InsufficientDataError, match="empty"):
        conclusions_agree([])
