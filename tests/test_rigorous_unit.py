"""Unit tests of emotion_hypotheses.levels.rigorous: feature builders, the correction family and result contents."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emotion_hypotheses.levels import rigorous
from emotion_hypotheses.levels.rigorous import LevelData, RigorousOutcome


def test_mean_pool_tokens_averages_over_tokens():
    hidden = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 5.0], [7.0, 9.0], [0.0, 1.0]])]

    pooled = rigorous.mean_pool_tokens(hidden)

    np.testing.assert_allclose(pooled, [[2.0, 3.0], [4.0, 5.0]])


def test_token_histograms_normalize_per_codebook():
    frames = [np.array([[0, 0, 1, 2], [3, 3, 3, 3]])]

    histograms = rigorous.token_histograms(frames, vocab_size=4)

    assert histograms.shape == (1, 8)
    np.testing.assert_allclose(histograms[0, :4], [0.5, 0.25, 0.25, 0.0])
    np.testing.assert_allclose(histograms[0, 4:], [0.0, 0.0, 0.0, 1.0])


def test_token_histograms_ignore_pad_ids():
    frames = [np.array([[0, 4, 4, 1]])]

    histograms = rigorous.token_histograms(frames, vocab_size=4)

    np.testing.assert_allclose(histograms[0], [0.5, 0.5, 0.0, 0.0])


def test_attention_features_mass_and_entropy():
    # One layer, two heads, two steps and two text tokens, of which the second is the emotion word.
    weights = np.array([[[[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0]]]])
    mask = np.array([False, True])

    features = rigorous.attention_features([weights], [mask])

    assert features.shape == (1, 3)
    np.testing.assert_allclose(features[0, :2], [0.5, 0.5])
    # Head 1 has entropy log 2 at both steps and head 2 has 0, so the mean is log(2) / 2.
    np.testing.assert_allclose(features[0, 2], np.log(2) / 2, atol=1e-9)


def test_attention_features_reject_mismatched_mask():
    weights = np.full((1, 1, 2, 3), 1 / 3)

    with pytest.raises(ValueError, match="emotion word mask"):
        rigorous.attention_features([weights], [np.array([True, False])])


def test_dynamics_layers_speed_variance_and_velocity():
    # One layer, three steps, two dimensions moving by (1, 0) per step.
    states = np.array([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])

    features = rigorous.dynamics_layers([states, 2 * states])

    assert features.shape == (1, 2, 4)
    np.testing.assert_allclose(features[0, 0], [1.0, (2 / 3) / 2, 1.0, 0.0])
    np.testing.assert_allclose(features[0, 1], [2.0, (8 / 3) / 2, 2.0, 0.0])


def test_dynamics_layers_need_two_steps():
    with pytest.raises(rigorous.InsufficientDataError, match="2 generation steps"):
        rigorous.dynamics_layers([np.zeros((1, 1, 2))])


def test_pca_scores_cap_components():
    X = np.random.default_rng(0).normal(size=(5, 20))

    scores = rigorous.pca_scores(X, n_components=10)

    assert scores.shape == (5, 4)
    np.testing.assert_allclose(scores.mean(axis=0), 0.0, atol=1e-9)


def test_acoustic_matrix_fills_nan_with_column_mean():
    table = {"rms_db": np.array([-10.0, np.nan, -30.0]), "onset_rate": np.array([np.nan, np.nan, np.nan])}

    matrix = rigorous.acoustic_matrix(table, ("rms_db", "onset_rate"))

    np.testing.assert_allclose(matrix, [[-10.0, 0.0], [-20.0, 0.0], [-30.0, 0.0]])


def test_acoustic_matrix_rejects_unknown_feature():
    with pytest.raises(ValueError, match="tempo"):
        rigorous.acoustic_matrix({"rms_db": np.zeros(2)}, ("tempo",))


def test_mean_between_cosine_of_emotion_means():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])

    assert rigorous.mean_between_cosine(X, ["a", "a", "b", "b"]) == pytest.approx(0.0)


def test_load_config_reads_every_family_test():
    config = rigorous.load_config()

    for level, name in rigorous.FAMILY_TESTS:
        assert config.describe(level, name), f"fixtures/rigorous.toml documents no test {level}.{name}"
        assert config.features(level, name), f"fixtures/rigorous.toml names no features for {level}.{name}"
    for level, name in rigorous.PRIMARY_TESTS.items():
        assert config.tests[(level, name)].get("primary") is True


def test_load_config_rejects_bad_setting(tmp_path):
    path = tmp_path / "rigorous.toml"
    path.write_text("[settings]\nn_splits = 1\n", encoding="utf-8")

    with pytest.raises(ValueError, match="n_splits"):
        rigorous.load_config(path)


def test_every_level_has_one_primary_test():
    assert set(rigorous.PRIMARY_TESTS) == set(rigorous.LEVELS)
    assert all(key in rigorous.FAMILY_TESTS for key in rigorous.PRIMARY_TESTS.items())


def outcome(level: str, name: str, raw_p: float | None) -> RigorousOutcome:
    return RigorousOutcome(level=level, name=name, measured=0.5, raw_p=raw_p)


def test_adjust_family_holm():
    outcomes = {
        ("text_embedding", "probe"): outcome("text_embedding", "probe", 0.01),
        ("audio_tokens", "probe"): outcome("audio_tokens", "probe", 0.04),
        ("acoustic", "probe"): outcome("acoustic", "probe", 0.5),
    }

    rigorous.adjust_family(outcomes, "holm")

    assert outcomes[("text_embedding", "probe")].adjusted_p == pytest.approx(0.03)
    assert outcomes[("audio_tokens", "probe")].adjusted_p == pytest.approx(0.08)
    assert outcomes[("acoustic", "probe")].adjusted_p == pytest.approx(0.5)
    assert outcomes[("acoustic", "probe")].details["family_size"] == 3


def test_adjust_family_bh_is_less_strict_than_holm():
    pvalues = {("text_embedding", "probe"): 0.01, ("audio_tokens", "probe"): 0.02, ("acoustic", "probe"): 0.03}
    holm = {key: outcome(*key, p) for key, p in pvalues.items()}
    bh = {key: outcome(*key, p) for key, p in pvalues.items()}

    rigorous.adjust_family(holm, "holm")
    rigorous.adjust_family(bh, "bh")

    for key in pvalues:
        assert bh[key].adjusted_p <= holm[key].adjusted_p
    assert bh[("acoustic", "probe")].adjusted_p == pytest.approx(0.03)


def test_adjust_family_skips_missing_pvalue():
    outcomes = {
        ("text_embedding", "probe"): outcome("text_embedding", "probe", 0.01),
        ("acoustic", "probe"): outcome("acoustic", "probe", None),
    }

    rigorous.adjust_family(outcomes, "holm")

    assert outcomes[("text_embedding", "probe")].adjusted_p == pytest.approx(0.01)
    assert outcomes[("acoustic", "probe")].adjusted_p is None
    assert outcomes[("text_embedding", "probe")].details["family_size"] == 1


def test_smallest_adjusted_p():
    assert rigorous.smallest_adjusted_p(11, 249, "holm") == pytest.approx(11 / 250)
    assert rigorous.smallest_adjusted_p(11, 49, "holm") == pytest.approx(11 / 50)
    assert rigorous.smallest_adjusted_p(11, 49, "bh") == pytest.approx(1 / 50)


def test_family_key_of_selected_items():
    from tests_hypotheses import test_rigorous as module  # noqa: F401 - the module the keys refer to

    def item(function, level=None):
        return SimpleNamespace(
            module=module, originalname=function,
            callspec=SimpleNamespace(params={"level": level}) if level else None,
        )

    assert module.family_key(item("test_primary_probe", "dynamics")) == ("dynamics", "layer_sweep")
    assert module.family_key(item("test_primary_probe", "acoustic")) == ("acoustic", "probe")
    assert module.family_key(item("test_similarity_effect", "transformer_hidden")) == (
        "transformer_hidden", "similarity_effect")
    assert module.family_key(item("test_rsa_emotion_geometry")) == ("compositional", "rsa")
    assert module.family_key(item("test_control_task_selectivity")) is None
    assert module.family_key(item("test_seed_split_reproducibility", "dynamics")) is None


def planted_level(n_templates: int = 6, signal: float = 3.0, layered: bool = False, seed: int = 0) -> LevelData:
    """Build a 4-emotion level with one template per group and an emotion-dependent mean when signal > 0."""
    rng = np.random.default_rng(seed)
    emotions = np.array(["happy", "sad", "calm", "energetic"])
    labels = np.tile(emotions, n_templates)
    groups = np.repeat([f"t{index}" for index in range(n_templates)], 4)
    words = np.array([f"{emotion}{index % 2}" for index in range(n_templates) for emotion in emotions])
    directions = rng.normal(size=(4, 8))
    emotion_index = np.tile(np.arange(4), n_templates)
    X = rng.normal(size=(labels.size, 8)) + signal * directions[emotion_index]
    features = np.stack([rng.normal(size=X.shape), X]) if layered else X
    return LevelData(level="transformer_hidden" if layered else "text_embedding", features=features, labels=labels,
                     groups=groups, words=words, seeds=np.repeat(np.arange(n_templates) % 2, 4), layered=layered)


def test_probe_outcome_carries_p_ci_and_chance():
    data = planted_level()

    result = rigorous.run_test("text_embedding", "probe", data, rigorous.RigorousConfig(), n_permutations=19)

    assert result.raw_p == pytest.approx(1 / 20)
    assert result.chance == pytest.approx(0.25)
    assert result.ci[0] <= result.measured <= result.ci[1]
    assert result.measured > 0.9
    assert result.details["n_permutations"] == 19


def test_probe_outcome_on_noise_is_not_significant():
    data = planted_level(signal=0.0)

    result = rigorous.run_test("text_embedding", "probe", data, rigorous.RigorousConfig(), n_permutations=19)

    assert result.raw_p > 0.05
    assert result.ci[0] <= result.chance


def test_layer_sweep_outcome_names_best_layer():
    data = planted_level(layered=True)

    result = rigorous.run_test("transformer_hidden", "layer_sweep", data, rigorous.RigorousConfig(), n_permutations=9)

    assert result.details["best_layer"] == 1
    assert result.raw_p == pytest.approx(0.1)
    assert result.ci[0] <= result.measured <= result.ci[1]
    assert result.chance == pytest.approx(0.25)


def test_seed_split_conclusions_use_disjoint_sets():
    data = planted_level(layered=True)

    conclusions = rigorous.seed_split_conclusions(data, [[0], [1]], rigorous.RigorousConfig(n_splits=3),
                                                  n_permutations=9, alpha=0.2)

    assert [item["n_samples"] for item in conclusions] == [12, 12]
    assert all(item["significant"] for item in conclusions)


def test_disagreement_when_similarity_hides_signal():
    threshold = SimpleNamespace(value=0.9, op=">", passes=lambda value: value > 0.9)
    thresholds = SimpleNamespace(get=lambda level, name: threshold)
    result = RigorousOutcome(level="transformer_hidden", name="layer_sweep", measured=0.91, raw_p=0.001,
                             chance=0.25, adjusted_p=0.004)

    details = rigorous.raw_comparison("transformer_hidden", "emotion_similarity", {"emotion_similarity": 0.95},
                                      thresholds, result, significant=True)

    assert details["raw_passed"] is True
    assert "0.95" in details["disagreement"]
    assert "0.91" in details["disagreement"]
    assert "hides the signal" in details["disagreement"]


def test_no_disagreement_when_both_agree():
    threshold = SimpleNamespace(value=0.8, op="<", passes=lambda value: value < 0.8)
    thresholds = SimpleNamespace(get=lambda level, name: threshold)
    result = RigorousOutcome(level="text_embedding", name="probe", measured=0.9, raw_p=0.001, chance=0.25,
                             adjusted_p=0.01)

    details = rigorous.raw_comparison("text_embedding", "emotion_pairs_in_input", {"emotion_pairs_in_input": 0.5},
                                      thresholds, result, significant=True)

    assert details["raw_measured"] == 0.5
    assert "disagreement" not in details


def test_similarity_on_identical_samples_has_p_one():
    data = planted_level(signal=0.0)
    data.features = np.ones_like(data.features)

    for name in ("similarity_effect", "rsa"):
        result = rigorous.run_test("text_embedding", name, data, rigorous.RigorousConfig(), n_permutations=9)

        assert result.raw_p == 1.0
        assert result.measured == 0.0
        assert "degenerate" in result.details
