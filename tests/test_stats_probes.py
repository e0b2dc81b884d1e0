"""Tests for the grouped linear probe and the layer sweep with its max-statistic correction."""

import numpy as np
import pytest
import scipy.stats
from sklearn.model_selection import StratifiedKFold, cross_val_score

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats.probes import layer_sweep, make_probe, probe

N_TEMPLATES = 6
EMOTIONS = ("happy", "sad", "angry")
PER_CELL = 4
N_FEATURES = 8


def design(n_templates=N_TEMPLATES, emotions=EMOTIONS, per_cell=PER_CELL):
    """Return labels and template ids with every emotion rendered per_cell times in every template."""
    y = np.array([emotion for _ in range(n_templates) for emotion in emotions for _ in range(per_cell)])
    groups = np.array([template for template in range(n_templates) for _ in emotions for _ in range(per_cell)])
    return y, groups


def planted_features(y, rng, strength=4.0, n_features=N_FEATURES):
    """Return noise features plus one well-separated mean shift per emotion."""
    classes = np.unique(y)
    centres = rng.normal(size=(classes.size, n_features)) * strength
    X = rng.normal(size=(y.size, n_features))
    for index, label in enumerate(classes):
        X[y == label] += centres[index]
    return X


def test_probe_planted_signal_near_perfect():
    rng = np.random.default_rng(1)
    y, groups = design()
    X = planted_features(y, rng)
    n_permutations = 19

    result = probe(X, y, groups, n_permutations=n_permutations, random_state=1)

    assert result.accuracy >= 0.95
    assert result.pvalue == pytest.approx(1 / (n_permutations + 1))
    assert result.accuracy_above_chance == pytest.approx(result.accuracy - result.chance)
    assert result.ci_low <= result.accuracy <= result.ci_high


def test_probe_noise_near_chance():
    rng = np.random.default_rng(2)
    y, groups = design(n_templates=8)
    X = rng.normal(size=(y.size, N_FEATURES))

    result = probe(X, y, groups, n_permutations=39, random_state=2)

    assert result.chance == pytest.approx(1 / 3)
    assert abs(result.accuracy - result.chance) < 0.15
    assert result.pvalue > 0.1


def test_probe_shuffled_labels_near_chance():
    rng = np.random.default_rng(3)
    y, groups = design(n_templates=8)
    X = planted_features(y, rng)
    y_shuffled = y[rng.permutation(y.size)]

    real = probe(X, y, groups)
    shuffled = probe(X, y_shuffled, groups)

    assert real.accuracy >= 0.95
    assert abs(shuffled.accuracy - shuffled.chance) < 0.15


def test_probe_grouped_cv_resists_template_memorisation():
    # Features encode only the template id, and each template renders a single
    # emotion, so labels follow templates. Ungrouped folds see every template
    # in training and reward memorising it; grouped folds test on unseen
    # templates, where the template-label link cannot transfer.
    rng = np.random.default_rng(4)
    n_templates, per_template = 10, 8
    groups = np.repeat(np.arange(n_templates), per_template)
    y = np.where(groups % 2 == 0, "happy", "sad")
    template_codes = rng.normal(size=(n_templates, 16)) * 3
    X = template_codes[groups] + rng.normal(size=(groups.size, 16)) * 0.1

    ungrouped = cross_val_score(make_probe(), X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    grouped = probe(X, y, groups)

    assert ungrouped >= 0.9
    assert grouped.accuracy <= grouped.chance + 0.15


def test_probe_majority_chance_for_imbalanced_labels():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(5), 10)
    y = np.tile(["happy"] * 8 + ["sad"] * 2, 5)
    X = rng.normal(size=(y.size, 4))

    result = probe(X, y, groups)

    assert result.uniform_chance == pytest.approx(0.5)
    assert result.majority_chance == pytest.approx(0.8)
    assert result.chance == pytest.approx(0.8)


def test_probe_wilson_interval_matches_scipy():
    rng = np.random.default_rng(6)
    y, groups = design()
    X = planted_features(y, rng, strength=0.6)

    result = probe(X, y, groups)
    n_correct = round(result.accuracy * y.size)
    expected = scipy.stats.binomtest(n_correct, y.size).proportion_ci(0.95, method="wilson")

    assert result.ci_low == pytest.approx(expected.low)
    assert result.ci_high == pytest.approx(expected.high)


def test_probe_caps_splits_at_group_count():
    rng = np.random.default_rng(7)
    y, groups = design(n_templates=3)
    X = planted_features(y, rng)

    result = probe(X, y, groups, n_splits=5)

    assert result.n_splits == 3
    assert result.fold_accuracies.shape == (3,)


def test_probe_pooled_accuracy_matches_fold_counts():
    rng = np.random.default_rng(8)
    y, groups = design(n_templates=5)
    X = planted_features(y, rng, strength=0.5)

    result = probe(X, y, groups)

    # Each fold contains whole templates of equal size, so pooled and mean fold accuracy agree.
    assert result.accuracy == pytest.approx(np.mean(result.fold_accuracies))


def test_probe_reproducible_with_seed_and_generator():
    rng = np.random.default_rng(9)
    y, groups = design()
    X = planted_features(y, rng, strength=0.3)

    first = probe(X, y, groups, n_permutations=9, random_state=11)
    second = probe(X, y, groups, n_permutations=9, random_state=11)
    from_generator = probe(X, y, groups, n_permutations=9, random_state=np.random.default_rng(11))

    assert first.pvalue == second.pvalue
    np.testing.assert_array_equal(first.null_accuracies, second.null_accuracies)
    assert 0 < from_generator.pvalue <= 1


def test_probe_rejects_single_group():
    y, _ = design(n_templates=1)
    X = np.random.default_rng(0).normal(size=(y.size, 3))

    with pytest.raises(InsufficientDataError, match="at least 2 groups"):
        probe(X, y, np.zeros(y.size))


def test_probe_rejects_single_class():
    groups = np.repeat(np.arange(4), 3)
    X = np.random.default_rng(0).normal(size=(groups.size, 3))

    with pytest.raises(InsufficientDataError, match="at least 2 classes"):
        probe(X, np.full(groups.size, "happy"), groups)


def test_probe_rejects_class_with_one_sample():
    y, groups = design()
    y = y.copy()
    y[0] = "calm"
    X = np.random.default_rng(0).normal(size=(y.size, 3))

    with pytest.raises(InsufficientDataError, match="calm"):
        probe(X, y, groups)


def test_probe_rejects_permutation_when_groups_hold_one_label():
    groups = np.repeat(np.arange(6), 5)
    y = np.where(groups % 2 == 0, "happy", "sad")
    X = np.random.default_rng(0).normal(size=(groups.size, 3))

    with pytest.raises(InsufficientDataError, match="single label"):
        probe(X, y, groups, n_permutations=9)


def test_probe_rejects_mismatched_lengths():
    y, groups = design()
    X = np.zeros((y.size + 1, 3))

    with pytest.raises(ValueError, match="one entry per sample"):
        probe(X, y, groups)


def test_layer_sweep_matches_probe_per_layer():
    rng = np.random.default_rng(10)
    y, groups = design()
    layers = np.stack([rng.normal(size=(y.size, N_FEATURES)), planted_features(y, rng, strength=0.5)])

    sweep = layer_sweep(layers, y, groups, n_permutations=0)

    for index, layer in enumerate(layers):
        assert sweep.accuracies[index] == pytest.approx(probe(layer, y, groups).accuracy)
    assert sweep.p_best is None


def test_layer_sweep_finds_informative_layer():
    rng = np.random.default_rng(11)
    y, groups = design()
    n_permutations = 19
    noise_layers = [rng.normal(size=(y.size, N_FEATURES)) for _ in range(5)]
    layers = np.stack(noise_layers[:3] + [planted_features(y, rng)] + noise_layers[3:])

    sweep = layer_sweep(layers, y, groups, n_splits=3, n_permutations=n_permutations, random_state=11)

    assert sweep.best_layer == 3
    assert sweep.p_best == pytest.approx(1 / (n_permutations + 1))


@pytest.mark.parametrize("seed", [12, 13])
def test_layer_sweep_all_noise_not_significant(seed):
    rng = np.random.default_rng(seed)
    y, groups = design()
    layers = np.stack([rng.normal(size=(y.size, N_FEATURES)) for _ in range(5)])

    sweep = layer_sweep(layers, y, groups, n_splits=3, n_permutations=29, random_state=seed)

    assert sweep.p_best > 0.1
    assert sweep.p_best >= sweep.layer_pvalues[sweep.best_layer]
    assert sweep.p_best >= sweep.layer_pvalues.min()
    assert np.all(sweep.null_max >= sweep.null_accuracies[:, sweep.best_layer])


def test_layer_sweep_accepts_layers_of_different_widths():
    rng = np.random.default_rng(14)
    y, groups = design()
    layers = [rng.normal(size=(y.size, 4)), planted_features(y, rng, n_features=12)]

    sweep = layer_sweep(layers, y, groups, n_splits=3, n_permutations=4)

    assert sweep.best_layer == 1
    assert sweep.accuracies.shape == (2,)


def test_layer_sweep_rejects_flat_array():
    y, groups = design()

    with pytest.raises(ValueError, match="n_layers"):
        layer_sweep(np.zeros((y.size, 3)), y, groups)
