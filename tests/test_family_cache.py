"""Rigorous family results shared through the run store: computed once, reread, and recomputed when unreadable."""

import math

import pytest

from emotion_hypotheses.levels.family_cache import cached_family
from emotion_hypotheses.levels.rigorous import RigorousOutcome


def make_outcomes():
    return {
        ("text_embedding", "probe"): RigorousOutcome(
            level="text_embedding", name="probe", measured=0.75, raw_p=0.01, chance=0.25, ci=(0.5, 0.9),
            details={"family_size": 2, "folds": [0.5, 1.0]}, adjusted_p=0.02,
        ),
        ("acoustic", "probe"): RigorousOutcome(
            level="acoustic", name="probe", measured=math.nan, raw_p=None, details={"error": "too few samples"},
        ),
    }


def test_family_computed_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return make_outcomes()

    first = cached_family(tmp_path, {"family": ["a"]}, compute)
    second = cached_family(tmp_path, {"family": ["a"]}, compute)
    assert len(calls) == 1
    assert second[("text_embedding", "probe")] == first[("text_embedding", "probe")]
    assert second[("text_embedding", "probe")].ci == (0.5, 0.9)
    assert math.isnan(second[("acoustic", "probe")].measured)


def test_family_fields_change_key(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return make_outcomes()

    cached_family(tmp_path, {"family": ["a"], "permutations": 99}, compute)
    cached_family(tmp_path, {"family": ["a"], "permutations": 199}, compute)
    assert len(calls) == 2


def test_unreadable_family_recomputed(tmp_path):
    cached_family(tmp_path, {"family": ["b"]}, make_outcomes)
    (stored,) = tmp_path.glob("*.json")
    stored.write_text("{not json")

    with pytest.warns(UserWarning, match="unreadable"):
        again = cached_family(tmp_path, {"family": ["b"]}, make_outcomes)
    assert again[("text_embedding", "probe")].adjusted_p == 0.02
