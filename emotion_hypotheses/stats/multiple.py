"""Multiple-comparison correction: Holm adjusted p-values (family-wise error) and Benjamini-Hochberg (false discovery rate).

NaN p-values (tests that could not run) pass through as NaN and do not count
in the number of tests m, so a failed test neither inflates nor relaxes the
correction of the others.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.stats

Method = Literal["holm", "bh"]
METHODS = ("holm", "bh")


def _check_pvalues(pvalues) -> np.ndarray:
    array = np.asarray(pvalues, dtype=float)

    if array.ndim > 1:
        raise ValueError(f"pvalues must be a 1-D sequence, got shape {array.shape}; flatten it first.")
    array = np.atleast_1d(array)

    finite = array[~np.isnan(array)]
    if np.any((finite < 0) | (finite > 1)):
        bad = finite[(finite < 0) | (finite > 1)]
        raise ValueError(
            f"p-values must lie in [0, 1] or be NaN, got {bad.tolist()}; pass probabilities, not statistics."
        )

    return array


def _holm(pvalues: np.ndarray) -> np.ndarray:
    # scipy.stats (checked in 1.17) offers only "bh" and "by" in
    # false_discovery_control and has no Holm step-down, and statsmodels is a
    # large dependency for these few lines.
    m = pvalues.size
    order = np.argsort(pvalues, kind="stable")

    # Step-down: the i-th smallest p-value (0-based) is multiplied by m - i,
    # then a running maximum keeps adjusted values in the order of raw ones.
    scaled = (m - np.arange(m)) * pvalues[order]
    monotone = np.minimum(np.maximum.accumulate(scaled), 1.0)

    adjusted = np.empty(m, dtype=float)
    adjusted[order] = monotone
    return adjusted


def adjust_pvalues(pvalues, method: Method = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons with Holm or Benjamini-Hochberg.

    "holm" controls the family-wise error rate (the chance of any false
    rejection) under any dependence between tests. "bh" controls the false
    discovery rate (the expected share of false rejections) under
    independence or positive dependence, via
    scipy.stats.false_discovery_control. NaN entries stay NaN and are left
    out of m. Adjusted p-values are never below the raw ones.

    Read an adjusted p-value against alpha as you would a raw one: a small
    value survives the correction, while a large one does not prove the
    null hypothesis, since correction costs power.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")

    pvalues = _check_pvalues(pvalues)

    adjusted = np.full(pvalues.shape, np.nan)
    tested = ~np.isnan(pvalues)
    if not np.any(tested):
        return adjusted

    if method == "holm":
        adjusted[tested] = _holm(pvalues[tested])
    else:
        adjusted[tested] = scipy.stats.false_discovery_control(pvalues[tested], method="bh")

    return adjusted


def reject(pvalues, alpha: float = 0.05, method: Method = "holm") -> np.ndarray:
    """Decide which null hypotheses to reject after a multiple-comparison correction.

    Returns a boolean array that is True where the adjusted p-value is at most
    alpha and False elsewhere, including at NaN p-values. A False entry means
    the evidence did not survive the correction, not that the null is true.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}; pass for example 0.05.")

    adjusted = adjust_pvalues(pvalues, method)

    return np.where(np.isnan(adjusted), False, adjusted <= alpha)
