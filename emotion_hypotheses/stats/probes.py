"""Cross-validated linear probes with grouped folds, chance levels, confidence intervals and permutation p-values.

A probe is make_pipeline(StandardScaler(), LogisticRegression()). Folds come
from GroupKFold over prompt-template ids, so no template is in both the
training and the test part of a fold and a probe cannot score by memorising
templates. layer_sweep probes every layer and corrects the best layer's
p-value for the choice among layers with a max-statistic permutation null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, permutation_test_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats._validation import (
    RandomState,
    check_features,
    check_groups_allow_permutation,
    check_n_permutations,
    check_vector,
    sklearn_seed,
    to_generator,
)
from emotion_hypotheses.stats.permutation import permute_within_groups

# Raised from scikit-learn's default of 100 so that lbfgs has room to converge
# on wide probes. A ConvergenceWarning still surfaces when it does not.
MAX_ITER = 1000
CONFIDENCE_LEVEL = 0.95

Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ProbeResult:
    """Cross-validated probe accuracy with chance levels, a Wilson interval and an optional permutation test.

    accuracy is pooled over all out-of-fold predictions. chance is the larger
    of uniform_chance (1 / n_classes) and majority_chance (the majority-class
    rate). pvalue and null_accuracies are None when no permutations were run.
    permutation_score is the statistic the permutation test compares: the mean
    of the per-fold accuracies, as scikit-learn's permutation_test_score
    computes it. It equals accuracy when all folds have the same size.
    """

    accuracy: float
    chance: float
    uniform_chance: float
    majority_chance: float
    accuracy_above_chance: float
    ci_low: float
    ci_high: float
    fold_accuracies: np.ndarray
    n_samples: int
    n_classes: int
    n_splits: int
    pvalue: float | None = None
    permutation_score: float | None = None
    null_accuracies: np.ndarray | None = None


@dataclass(frozen=True)
class SweepResult:
    """Per-layer probe accuracies with a best-layer p-value corrected for the choice of layer.

    p_best compares the best observed accuracy with the maximum accuracy over
    all layers in each permutation, so it accounts for picking the best of
    n_layers. layer_pvalues are uncorrected per-layer p-values from the same
    permutations, and p_best >= layer_pvalues[best_layer] always. The
    p-values and null arrays are None when n_permutations is 0.
    """

    accuracies: np.ndarray
    chance: float
    best_layer: int
    best_accuracy: float
    p_best: float | None
    layer_pvalues: np.ndarray | None
    null_max: np.ndarray | None
    null_accuracies: np.ndarray | None
    n_splits: int


# Probe fits multiply matrices of a few hundred rows, where BLAS threads spend
# more time synchronising than computing, and OpenBLAS threads that wait on a
# busy CPU slow every fit down. On a 2-core VM with other jobs running, the
# all-noise layer-sweep tests in tests/test_stats_probes.py took 41 s with
# OpenBLAS's default 2 threads and 4.4 s with 1 thread. The decorator sets the
# limit on each call and restores the previous one on return.
# NOTE: for probes on thousands of samples a multithreaded BLAS may be faster,
# but the limit has only been measured on the small test data.
single_threaded_blas = threadpool_limits.wrap(limits=1, user_api="blas")


def make_probe(C: float = 1.0) -> Pipeline:
    """Build the linear probe: standardisation followed by L2-regularised logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITER))


def check_probe_inputs(y, groups, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and groups for a grouped probe and return them as arrays.

    Raises InsufficientDataError for fewer than 2 classes, a class with fewer
    than 2 samples, or fewer than 2 groups.
    """
    y = check_vector(y, n_samples, "y")
    groups = check_vector(groups, n_samples, "groups")

    classes, class_counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise InsufficientDataError(
            f"a probe needs at least 2 classes, got {classes.size} ({classes.tolist()}); "
            f"include samples of at least two emotions."
        )

    rare = {str(label): int(count) for label, count in zip(classes, class_counts) if count < 2}
    if rare:
        raise InsufficientDataError(
            f"every class needs at least 2 samples, got {rare}; "
            f"add samples for these emotions or drop them from the analysis."
        )

    n_groups = np.unique(groups).size
    if n_groups < 2:
        raise InsufficientDataError(
            f"grouped cross-validation needs at least 2 groups (prompt templates), got {n_groups}; "
            f"render the emotions with at least two prompt templates."
        )

    return y, groups


def grouped_splits(X: np.ndarray, y: np.ndarray, groups: np.ndarray, n_splits: int) -> Splits:
    """Build GroupKFold splits, capping n_splits at the number of groups.

    Raises InsufficientDataError when a training part contains a single class,
    which happens when groups and labels coincide.
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}; pass for example 5.")

    n_groups = np.unique(groups).size
    splitter = GroupKFold(n_splits=min(n_splits, n_groups))
    splits = [(train, test) for train, test in splitter.split(X, y, groups)]

    for fold, (train, _) in enumerate(splits):
        train_classes = np.unique(y[train])
        if train_classes.size < 2:
            raise InsufficientDataError(
                f"the training part of fold {fold} contains a single class ({train_classes.tolist()}), "
                f"so no classifier can be fitted; use groups (prompt templates) that each contain "
                f"several emotions, or more groups."
            )

    return splits


def cross_validated_predictions(X: np.ndarray, y: np.ndarray, splits: Splits, C: float) -> np.ndarray:
    """Fit a fresh probe on each training part and return the out-of-fold predictions."""
    predictions = np.empty_like(y)

    for train, test in splits:
        model = make_probe(C)
        model.fit(X[train], y[train])
        predictions[test] = model.predict(X[test])

    return predictions


def chance_levels(y: np.ndarray) -> tuple[float, float, float]:
    """Return (chance, uniform chance 1 / n_classes, majority-class rate), with chance the larger."""
    _, counts = np.unique(y, return_counts=True)
    uniform = 1.0 / counts.size
    majority = counts.max() / counts.sum()
    return float(max(uniform, majority)), float(uniform), float(majority)


def wilson_interval(n_correct: int, n_total: int) -> tuple[float, float]:
    """Return the 95% Wilson score interval for an accuracy of n_correct out of n_total."""
    interval = scipy.stats.binomtest(n_correct, n_total).proportion_ci(
        confidence_level=CONFIDENCE_LEVEL, method="wilson"
    )
    return float(interval.low), float(interval.high)


@single_threaded_blas
def probe(
    X,
    y,
    groups,
    *,
    n_splits: int = 5,
    C: float = 1.0,
    random_state: RandomState = 0,
    n_permutations: int = 0,
) -> ProbeResult:
    """Estimate how well a linear probe decodes y from X under grouped cross-validation.

    Folds come from GroupKFold over groups (prompt templates), with n_splits
    capped at the number of groups. The 95% Wilson interval treats the N
    out-of-fold predictions as independent trials, but they come from different
    fold models, so read it as approximate. With n_permutations > 0, labels
    are permuted within groups and the whole cross-validation is repeated
    (sklearn.model_selection.permutation_test_score), giving
    p = (C + 1) / (n + 1) for the mean per-fold accuracy.

    Compare accuracy with chance, not with 0.5. A small p-value means the
    probe decodes the labels better than it decodes permuted labels, so X
    carries label information that generalises across templates. A large
    p-value does not prove X lacks that information: a linear probe at this
    sample size may miss it.

    Raises InsufficientDataError for fewer than 2 classes or groups, a class
    with fewer than 2 samples, or a fold whose training part has one class.
    """
    X = check_features(X)
    y, groups = check_probe_inputs(y, groups, X.shape[0])
    n_permutations = check_n_permutations(n_permutations, allow_zero=True)
    rng = to_generator(random_state)

    splits = grouped_splits(X, y, groups, n_splits)

    predictions = cross_validated_predictions(X, y, splits, C)
    correct = predictions == y
    accuracy = float(np.mean(correct))
    fold_accuracies = np.array([np.mean(correct[test]) for _, test in splits])

    chance, uniform_chance, majority_chance = chance_levels(y)
    ci_low, ci_high = wilson_interval(int(np.sum(correct)), y.size)

    pvalue = None
    permutation_score = None
    null_accuracies = None
    if n_permutations > 0:
        check_groups_allow_permutation(y, groups)

        # The fixed list of splits makes the observed and every permuted score
        # use the same folds. permutation_test_score shuffles y within groups.
        score, null_scores, sklearn_pvalue = permutation_test_score(
            make_probe(C),
            X,
            y,
            groups=groups,
            cv=splits,
            n_permutations=n_permutations,
            random_state=sklearn_seed(rng),
            scoring="accuracy",
        )
        pvalue = float(sklearn_pvalue)
        permutation_score = float(score)
        null_accuracies = np.asarray(null_scores, dtype=float)

    return ProbeResult(
        accuracy=accuracy,
        chance=chance,
        uniform_chance=uniform_chance,
        majority_chance=majority_chance,
        accuracy_above_chance=accuracy - chance,
        ci_low=ci_low,
        ci_high=ci_high,
        fold_accuracies=fold_accuracies,
        n_samples=int(y.size),
        n_classes=int(np.unique(y).size),
        n_splits=len(splits),
        pvalue=pvalue,
        permutation_score=permutation_score,
        null_accuracies=null_accuracies,
    )


def _check_layers(X_layers) -> list[np.ndarray]:
    if isinstance(X_layers, np.ndarray):
        if X_layers.ndim != 3:
            raise ValueError(
                f"X_layers must have shape (n_layers, n_samples, n_features), got {X_layers.shape}; "
                f"stack the per-layer feature matrices with np.stack."
            )

    layers = [check_features(layer, f"X_layers[{index}]") for index, layer in enumerate(X_layers)]

    if len(layers) == 0:
        raise InsufficientDataError("X_layers contains no layers; pass at least one (n_samples, n_features) matrix.")

    n_samples = {layer.shape[0] for layer in layers}
    if len(n_samples) != 1:
        raise ValueError(
            f"all layers must have the same number of samples, got {sorted(n_samples)}; "
            f"extract every layer from the same set of clips."
        )

    return layers


def _layer_accuracies(layers: list[np.ndarray], y: np.ndarray, splits: Splits, C: float) -> np.ndarray:
    return np.array([np.mean(cross_validated_predictions(X, y, splits, C) == y) for X in layers])


@single_threaded_blas
def layer_sweep(
    X_layers,
    y,
    groups,
    *,
    n_splits: int = 5,
    C: float = 1.0,
    n_permutations: int = 99,
    random_state: RandomState = 0,
) -> SweepResult:
    """Probe every layer and test the best layer with a max-statistic permutation null over the sweep.

    X_layers has shape (n_layers, N, D) or is a sequence of (N, D_l)
    matrices. Each layer gets the pooled out-of-fold accuracy of probe(), with
    the same GroupKFold splits for all layers and all permutations. Each
    permutation shuffles y within groups once, probes every layer and keeps
    the maximum accuracy. p_best = (C + 1) / (n + 1), where C counts
    permutation maxima >= the best observed accuracy. Uncorrected per-layer
    p-values come from the same permutations at no extra cost. The cost is
    n_layers * n_splits * (n_permutations + 1) probe fits.

    A small p_best means that even after choosing the best of all layers,
    its accuracy beats what label-free data reach at their best layer. A
    large p_best does not prove that no layer encodes the labels. Use the
    uncorrected layer_pvalues only for a layer fixed before looking.
    """
    layers = _check_layers(X_layers)
    y, groups = check_probe_inputs(y, groups, layers[0].shape[0])
    n_permutations = check_n_permutations(n_permutations, allow_zero=True)
    rng = to_generator(random_state)

    splits = grouped_splits(layers[0], y, groups, n_splits)

    accuracies = _layer_accuracies(layers, y, splits, C)
    best_layer = int(np.argmax(accuracies))
    best_accuracy = float(accuracies[best_layer])
    chance, _, _ = chance_levels(y)

    if n_permutations == 0:
        return SweepResult(
            accuracies=accuracies,
            chance=chance,
            best_layer=best_layer,
            best_accuracy=best_accuracy,
            p_best=None,
            layer_pvalues=None,
            null_max=None,
            null_accuracies=None,
            n_splits=len(splits),
        )

    check_groups_allow_permutation(y, groups)

    # Accuracies are multiples of 1 / N computed the same way for observed and
    # permuted labels, so exact comparisons count ties correctly.
    null_accuracies = np.empty((n_permutations, len(layers)))
    for index in range(n_permutations):
        y_permuted = permute_within_groups(y, groups, rng)
        null_accuracies[index] = _layer_accuracies(layers, y_permuted, splits, C)

    null_max = null_accuracies.max(axis=1)
    p_best = (np.count_nonzero(null_max >= best_accuracy) + 1) / (n_permutations + 1)
    layer_pvalues = (np.count_nonzero(null_accuracies >= accuracies, axis=0) + 1) / (n_permutations + 1)

    return SweepResult(
        accuracies=accuracies,
        chance=chance,
        best_layer=best_layer,
        best_accuracy=best_accuracy,
        p_best=float(p_best),
        layer_pvalues=layer_pvalues.astype(float),
        null_max=null_max,
        null_accuracies=null_accuracies,
        n_splits=len(splits),
    )
