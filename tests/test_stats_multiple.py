"""Tests for Holm and Benjamini-Hochberg adjusted p-values and the reject decision."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emotion_hypotheses.stats.multiple import adjust_pvalues, reject

FAST = settings(max_examples=60, deadline=None, database=None)
pvalue_lists = st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=25)

# Hand-computed for p = [0.01, 0.04, 0.03, 0.005], m = 4.
# Holm: sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06.
# BH: sorted 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04.
RAW = [0.01, 0.04, 0.03, 0.005]
HOLM = [0.03, 0.06, 0.06, 0.02]
BH = [0.02, 0.04, 0.04, 0.02]


def test_holm_hand_computed():
    np.testing.assert_allclose(adjust_pvalues(RAW, "holm"), HOLM)


def test_bh_hand_computed():
    np.testing.assert_allclose(adjust_pvalues(RAW, "bh"), BH)


def test_holm_caps_at_one():
    np.testing.assert_allclose(adjust_pvalues([0.4, 0.5, 0.9], "holm"), [1.0, 1.0, 1.0])


def test_bh_step_up_lowers_earlier_values():
    # 0.04 * 3 / 2 = 0.06 exceeds the largest, 0.05 * 3 / 3 = 0.05, so the step-up minimum gives 0.05.
    np.testing.assert_allclose(adjust_pvalues([0.01, 0.04, 0.05], "bh"), [0.03, 0.05, 0.05])


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_nan_passes_through_and_is_not_counted(method):
    with_nan = adjust_pvalues([0.01, np.nan, 0.04], method)
    without_nan = adjust_pvalues([0.01, 0.04], method)

    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], without_nan)


def test_all_nan_returns_all_nan():
    assert np.all(np.isnan(adjust_pvalues([np.nan, np.nan])))


def test_reject_uses_adjusted_values():
    decisions = reject(RAW, alpha=0.05, method="holm")

    np.testing.assert_array_equal(decisions, [True, False, False, True])


def test_reject_nan_is_false():
    decisions = reject([0.001, np.nan], alpha=0.05, method="bh")

    np.testing.assert_array_equal(decisions, [True, False])


def test_rejects_out_of_range_pvalue():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_pvalues([0.5, 1.2])


def test_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        adjust_pvalues([0.5], "bonferroni")


def test_reject_rejects_invalid_alpha():
    with pytest.raises(ValueError, match="alpha"):
        reject([0.5], alpha=1.5)


@pytest.mark.parametrize("method,statsmodels_method", [("holm", "holm"), ("bh", "fdr_bh")])
def test_matches_statsmodels(method, statsmodels_method):
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    pvalues = np.random.default_rng(0).uniform(size=40) ** 3

    _, expected, _, _ = multitest.multipletests(pvalues, method=statsmodels_method)

    np.testing.assert_allclose(adjust_pvalues(pvalues, method), expected)


@FAST
@given(pvalues=pvalue_lists, method=st.sampled_from(["holm", "bh"]))
def test_adjusted_at_least_raw_and_at_most_one(pvalues, method):
    raw = np.array(pvalues)

    adjusted = adjust_pvalues(raw, method)

    assert np.all(adjusted >= raw - 1e-12)
    assert np.all(adjusted <= 1)


@FAST
@given(pvalues=pvalue_lists, method=st.sampled_from(["holm", "bh"]))
def test_adjusted_monotone_in_raw(pvalues, method):
    raw = np.array(pvalues)
    order = np.argsort(raw, kind="stable")

    adjusted = adjust_pvalues(raw, method)

    assert np.all(np.diff(adjusted[order]) >= -1e-12)


@FAST
@given(pvalues=pvalue_lists)
def test_holm_at_least_bh(pvalues):
    holm = adjust_pvalues(pvalues, "holm")
    bh = adjust_pvalues(pvalues, "bh")

    assert np.all(holm >= bh - 1e-12)
