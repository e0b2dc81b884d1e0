"""Tests for label-permutation p-values, the within-group shuffle and the two-sample wrapper."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats.permutation import (
    permutation_pvalue,
    permute_within_groups,
    pvalue_from_null,
    two_sample_permutation_test,
)

FAST = settings(max_examples=30, deadline=None, database=None)
finite_floats = st.floats(min_value=-100, max_value=100, allow_nan=False)


def mean_difference_statistic(values):
    """Return a statistic of binary labels: mean of values labelled 1 minus mean of values labelled 0."""

    def statistic(labels):
        return float(values[labels == 1].mean() - values[labels == 0].mean())

    return statistic


def test_permute_within_groups_keeps_group_contents():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], 10)
    values = np.arange(groups.size)

    permuted = permute_within_groups(values, groups, rng)

    for group in np.unique(groups):
        assert sorted(permuted[groups == group]) == sorted(values[groups == group])
    assert not np.array_equal(permuted, values)


def test_permute_within_groups_handles_unsorted_groups():
    rng = np.random.default_rng(1)
    groups = np.array([2, 0, 1, 0, 2, 1, 0, 2, 1, 1])
    values = np.arange(groups.size)

    permuted = permute_within_groups(values, groups, rng)

    for group in np.unique(groups):
        assert set(permuted[groups == group]) == set(values[groups == group])


def test_permutation_pvalue_planted_effect_at_floor():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 20)
    values = rng.normal(size=labels.size) + 3 * labels
    n_permutations = 199

    result = permutation_pvalue(
        mean_difference_statistic(values), labels, n_permutations=n_permutations, random_state=2
    )

    assert result.pvalue == pytest.approx(1 / (n_permutations + 1))
    assert result.n_permutations == n_permutations


def test_permutation_pvalue_noise_not_small():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 20)
    values = rng.normal(size=labels.size)

    result = permutation_pvalue(
        mean_difference_statistic(values), labels, n_permutations=199, alternative="two-sided", random_state=3
    )

    assert result.pvalue > 0.1


def test_permutation_pvalue_within_groups_keeps_group_statistic():
    # The label sum inside group 0 cannot change when labels move only
    # within groups, so every null value ties the observed one and p is 1.
    groups = np.repeat([0, 1, 2], 6)
    labels = np.tile([0, 1, 1, 0, 1, 0], 3)

    def label_sum_in_group_zero(permuted):
        return float(permuted[groups == 0].sum())

    result = permutation_pvalue(label_sum_in_group_zero, labels, groups=groups, n_permutations=49)

    assert result.pvalue == 1.0
    assert np.all(result.null == result.observed)


def test_permutation_pvalue_free_shuffle_changes_group_statistic():
    groups = np.repeat([0, 1, 2], 6)
    labels = np.tile([0, 1, 1, 0, 1, 0], 3)

    def label_sum_in_group_zero(permuted):
        return float(permuted[groups == 0].sum())

    result = permutation_pvalue(label_sum_in_group_zero, labels, n_permutations=49)

    assert np.any(result.null != result.observed)


def test_permutation_pvalue_rejects_single_label_groups():
    groups = np.repeat([0, 1, 2], 4)
    labels = groups % 2

    with pytest.raises(InsufficientDataError, match="single label"):
        permutation_pvalue(lambda permuted: float(permuted.sum()), labels, groups=groups)


def test_permutation_pvalue_rejects_nan_statistic():
    labels = np.repeat([0, 1], 5)

    with pytest.raises(ValueError, match="NaN"):
        permutation_pvalue(lambda permuted: float("nan"), labels, n_permutations=9)


def test_pvalue_from_null_less_mirrors_greater():
    null = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])

    assert pvalue_from_null(1.5, null, "greater") == pytest.approx(2 / 6)
    assert pvalue_from_null(-1.5, -null, "less") == pytest.approx(2 / 6)
    assert pvalue_from_null(1.5, null, "two-sided") == pytest.approx(4 / 6)


@FAST
@given(
    values=arrays(float, st.integers(4, 20), elements=finite_floats),
    seed=st.integers(0, 2**16),
    n_permutations=st.integers(1, 60),
    alternative=st.sampled_from(["greater", "less", "two-sided"]),
)
def test_permutation_pvalue_range_and_floor(values, seed, n_permutations, alternative):
    labels = np.arange(values.size) % 2

    result = permutation_pvalue(
        mean_difference_statistic(values),
        labels,
        n_permutations=n_permutations,
        alternative=alternative,
        random_state=seed,
    )

    assert 0 < result.pvalue <= 1
    assert result.pvalue >= 1 / (n_permutations + 1)


@FAST
@given(
    observed=finite_floats,
    null=arrays(float, st.integers(1, 50), elements=finite_floats),
    alternative=st.sampled_from(["greater", "less", "two-sided"]),
)
def test_pvalue_from_null_range_and_floor(observed, null, alternative):
    pvalue = pvalue_from_null(observed, null, alternative)

    assert 0 < pvalue <= 1
    assert pvalue >= 1 / (null.size + 1)


@FAST
@given(
    values=arrays(float, st.integers(4, 20), elements=finite_floats),
    seed=st.integers(0, 2**16),
    grouped=st.booleans(),
)
def test_two_sided_pvalue_symmetric_under_group_swap(values, seed, grouped):
    labels = np.arange(values.size) % 2
    groups = np.arange(values.size) // 4 if grouped and values.size >= 8 else None
    statistic = mean_difference_statistic(values)

    original = permutation_pvalue(
        statistic, labels, groups=groups, n_permutations=99, alternative="two-sided", random_state=seed
    )
    swapped = permutation_pvalue(
        statistic, 1 - labels, groups=groups, n_permutations=99, alternative="two-sided", random_state=seed
    )

    assert swapped.observed == -original.observed
    assert swapped.pvalue == original.pvalue


def test_two_sample_planted_difference_small():
    rng = np.random.default_rng(4)
    first = rng.normal(size=15) + 2
    second = rng.normal(size=15)
    n_permutations = 499

    result = two_sample_permutation_test(first, second, n_permutations=n_permutations, random_state=4)

    assert result.observed == pytest.approx(first.mean() - second.mean())
    assert result.pvalue == pytest.approx(2 / (n_permutations + 1))


def test_two_sample_noise_not_small():
    rng = np.random.default_rng(5)

    result = two_sample_permutation_test(rng.normal(size=15), rng.normal(size=15), n_permutations=499)

    assert result.pvalue > 0.1


def test_two_sample_exact_symmetric_under_swap():
    # 6 + 5 values have C(11, 5) = 462 partitions, fewer than n_permutations,
    # so scipy enumerates them all and the two orders see the same null.
    rng = np.random.default_rng(6)
    first = rng.normal(size=6) + 0.5
    second = rng.normal(size=5)

    forward = two_sample_permutation_test(first, second, n_permutations=999, random_state=7)
    backward = two_sample_permutation_test(second, first, n_permutations=999, random_state=7)

    assert forward.n_permutations == 462
    assert backward.observed == pytest.approx(-forward.observed)
    assert backward.pvalue == pytest.approx(forward.pvalue)


def test_two_sample_rejects_too_few_values():
    with pytest.raises(InsufficientDataError, match="at least 3 values"):
        two_sample_permutation_test([1.0], [2.0])
