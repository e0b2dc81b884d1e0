"""Permutation tests: a label-permutation p-value for any statistic, optionally within groups, and a two-sample test.

Every p-value here counts the observed arrangement as one member of the null
distribution, p = (C + 1) / (n + 1), where C is the number of permuted
statistics at least as extreme as the observed one. Such a p-value is never 0,
its floor is 1 / (n + 1), and it is valid (not anti-conservative) for any
number of permutations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import scipy.stats

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats._validation import (
    RandomState,
    check_groups_allow_permutation,
    check_n_permutations,
    check_vector,
    to_generator,
)

Alternative = Literal["greater", "less", "two-sided"]
ALTERNATIVES = ("greater", "less", "two-sided")


@dataclass(frozen=True)
class PermutationResult:
    """Observed statistic, its permutation null distribution and the p-value."""

    observed: float
    null: np.ndarray
    pvalue: float
    alternative: str

    @property
    def n_permutations(self) -> int:
        """Number of permuted statistics in the null distribution."""
        return int(self.null.shape[0])


def permute_within_groups(values, groups, random_state: RandomState) -> np.ndarray:
    """Shuffle values, moving each value only among samples of its own group.

    Without groups this is a plain permutation. The random draws do not depend
    on the content of values, so two label vectors of the same length permuted
    with equally seeded generators are rearranged by the same permutation.
    Pass a Generator, not an int, when calling this repeatedly, because an
    int seed gives the same permutation on every call.
    """
    rng = to_generator(random_state)
    values = np.asarray(values)
    n_samples = values.shape[0]

    if groups is None:
        return values[rng.permutation(n_samples)]

    groups = check_vector(groups, n_samples, "groups")
    _, group_codes = np.unique(groups, return_inverse=True)

    # Sorting by (group, random key) lists each group's indices in random order.
    # Writing them back into the stable group-sorted positions gives every group
    # a random permutation of its own indices in one vectorised step.
    random_keys = rng.random(n_samples)
    shuffled_order = np.lexsort((random_keys, group_codes))
    grouped_order = np.argsort(group_codes, kind="stable")

    permutation = np.empty(n_samples, dtype=np.intp)
    permutation[grouped_order] = shuffled_order

    return values[permutation]


def pvalue_from_null(observed: float, null, alternative: Alternative = "greater") -> float:
    """Compute the permutation p-value (C + 1) / (n + 1) of observed against null.

    "greater" counts null values >= observed and "less" counts null values <=
    observed. "two-sided" is min(1, 2 * min(p_greater, p_less)), the rule that
    scipy.stats.permutation_test uses, which needs no symmetry of the null.
    A small p-value means few permutations reached the observed statistic. A
    large one does not prove there is no effect, only that this test with this
    many samples did not detect one.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}.")

    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or null.size == 0:
        raise ValueError(f"null must be a non-empty 1-D array, got shape {null.shape}.")

    if not np.isfinite(observed) or not np.all(np.isfinite(null)):
        raise ValueError(
            f"the statistic returned NaN or infinity (observed={observed!r}, "
            f"{int(np.sum(~np.isfinite(null)))} of {null.size} null values); "
            f"make the statistic finite for every label permutation."
        )

    # Permuted statistics that equal the observed one in exact arithmetic can
    # differ from it by rounding. Values within 100 machine epsilons (relative)
    # count as ties, as in scipy.stats.permutation_test (checked in scipy 1.17),
    # so rounding cannot make the test anti-conservative.
    tolerance = abs(observed) * np.finfo(float).eps * 100
    n_permutations = null.size

    p_greater = (np.count_nonzero(null >= observed - tolerance) + 1) / (n_permutations + 1)
    p_less = (np.count_nonzero(null <= observed + tolerance) + 1) / (n_permutations + 1)

    if alternative == "greater":
        return float(p_greater)
    if alternative == "less":
        return float(p_less)
    return float(min(1.0, 2.0 * min(p_greater, p_less)))


def permutation_pvalue(
    statistic: Callable[[np.ndarray], float],
    y,
    *,
    groups=None,
    n_permutations: int = 999,
    alternative: Alternative = "greater",
    random_state: RandomState = 0,
) -> PermutationResult:
    """Test a statistic of the labels y against its distribution under label permutation.

    statistic(y) is evaluated on y and on n_permutations permuted copies of y.
    With groups, labels are permuted only within each group (prompt template),
    which keeps any template structure out of the null. The p-value is
    (C + 1) / (n + 1), so its floor is 1 / (n_permutations + 1).

    A small p-value means the observed statistic is rare among label
    permutations, so the labels are related to whatever the statistic reads.
    A large p-value does not prove the absence of a relation, because the
    test may lack power at this sample size.

    Raises InsufficientDataError when permuting within groups cannot change
    the labels because each group contains a single label.
    """
    # scipy.stats.permutation_test permutes freely across all samples and has no
    # groups argument, so the within-group shuffle is done here with numpy.
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] < 2:
        raise InsufficientDataError(
            f"y must be a 1-D array with at least 2 labels, got shape {y.shape}; pass more samples."
        )

    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    if groups is not None:
        groups = check_vector(groups, y.shape[0], "groups")
        check_groups_allow_permutation(y, groups)

    observed = float(statistic(y))

    null = np.empty(n_permutations, dtype=float)
    for index in range(n_permutations):
        null[index] = float(statistic(permute_within_groups(y, groups, rng)))

    pvalue = pvalue_from_null(observed, null, alternative)

    return PermutationResult(observed=observed, null=null, pvalue=pvalue, alternative=alternative)


def _mean_difference(first: np.ndarray, second: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(first, axis=axis) - np.mean(second, axis=axis)


def two_sample_permutation_test(
    first,
    second,
    *,
    n_permutations: int = 9999,
    alternative: Alternative = "two-sided",
    random_state: RandomState = 0,
) -> PermutationResult:
    """Test the difference in means between two independent samples by permutation.

    A thin wrapper around scipy.stats.permutation_test with the statistic
    mean(first) - mean(second). Use it where samples need no grouping.
    With random permutations scipy's p-value is (C + 1) / (n + 1). When
    n_permutations is at least the number of distinct partitions, scipy
    enumerates them all and the p-value is exact, with floor
    1 / (number of partitions).

    A small p-value means the two samples differ in mean more than almost all
    random relabellings do. A large p-value does not show the means are
    equal, only that this test did not detect a difference.
    """
    first = np.asarray(first, dtype=float).ravel()
    second = np.asarray(second, dtype=float).ravel()

    if first.size < 1 or second.size < 1 or first.size + second.size < 3:
        raise InsufficientDataError(
            f"two-sample permutation test needs non-empty samples and at least 3 values in total, "
            f"got {first.size} and {second.size}; collect more samples."
        )

    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}.")

    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    # random_state, not rng, because the rng keyword needs scipy >= 1.15 and
    # the project supports scipy >= 1.11.
    result = scipy.stats.permutation_test(
        (first, second),
        _mean_difference,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_permutations,
        alternative=alternative,
        random_state=rng,
    )

    return PermutationResult(
        observed=float(result.statistic),
        null=np.asarray(result.null_distribution, dtype=float),
        pvalue=float(result.pvalue),
        alternative=alternative,
    )
