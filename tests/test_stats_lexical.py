"""Tests for held-out-word generalisation and control-task selectivity."""

import numpy as np
import pytest

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats.lexical import (
    control_labels_for_words,
    control_task_selectivity,
    lexical_generalization,
)

WORDS = {
    "happy": ["cheerful", "joyful", "merry", "upbeat"],
    "sad": ["gloomy", "mournful", "sorrowful", "tearful"],
    "angry": ["furious", "irate", "raging", "wrathful"],
}
N_TEMPLATES = 4
N_FEATURES = 12


def design(words_by_emotion=WORDS, n_templates=N_TEMPLATES):
    """Return labels, words and template ids with every word rendered once per template."""
    rows = [
        (emotion, word, template)
        for template in range(n_templates)
        for emotion, word_list in words_by_emotion.items()
        for word in word_list
    ]
    y, words, groups = (np.array(column) for column in zip(*rows))
    return y, words, groups.astype(int)


def emotion_features(y, words, rng, emotion_strength=3.0, word_strength=1.0):
    """Return features with a shared direction per emotion plus a smaller random offset per word."""
    emotion_centres = {e: rng.normal(size=N_FEATURES) * emotion_strength for e in np.unique(y)}
    word_offsets = {w: rng.normal(size=N_FEATURES) * word_strength for w in np.unique(words)}
    X = np.array([emotion_centres[e] + word_offsets[w] for e, w in zip(y, words)])
    return X + rng.normal(size=X.shape) * 0.5


def word_identity_features(words, rng, word_strength=3.0):
    """Return features that encode only which word was used, with no shared emotion direction."""
    word_vectors = {w: rng.normal(size=N_FEATURES) * word_strength for w in np.unique(words)}
    X = np.array([word_vectors[w] for w in words])
    return X + rng.normal(size=X.shape) * 0.5


def test_lexical_emotion_direction_generalises():
    rng = np.random.default_rng(0)
    y, words, _ = design()
    X = emotion_features(y, words, rng)
    n_permutations = 49

    result = lexical_generalization(X, y, words, n_permutations=n_permutations, random_state=0)

    assert result.accuracy >= 0.9
    assert result.pvalue == pytest.approx(1 / (n_permutations + 1))
    assert result.ci_low <= result.accuracy <= result.ci_high


def test_lexical_word_identity_does_not_generalise():
    rng = np.random.default_rng(1)
    y, words, _ = design()
    X = word_identity_features(words, rng)

    result = lexical_generalization(X, y, words, n_permutations=49, random_state=1)

    assert result.chance == pytest.approx(1 / 3)
    assert result.accuracy < 0.7
    assert result.pvalue > 0.05


def test_lexical_default_split_is_disjoint_and_deterministic():
    rng = np.random.default_rng(2)
    y, words, _ = design()
    X = emotion_features(y, words, rng)

    first = lexical_generalization(X, y, words, n_permutations=5, random_state=2)
    second = lexical_generalization(X, y, words, n_permutations=5, random_state=3)

    assert first.train_words == second.train_words
    for emotion, word_list in WORDS.items():
        assert first.train_words[emotion] | first.heldout_words[emotion] == set(word_list)
        assert not first.train_words[emotion] & first.heldout_words[emotion]
    assert first.train_words["happy"] == {"cheerful", "joyful"}
    assert first.n_train + first.n_test == y.size


def test_lexical_explicit_train_words():
    rng = np.random.default_rng(3)
    y, words, _ = design()
    X = emotion_features(y, words, rng)
    train_words = {emotion: set(word_list[:3]) for emotion, word_list in WORDS.items()}

    result = lexical_generalization(X, y, words, train_words=train_words, n_permutations=5)

    assert result.heldout_words["sad"] == {"tearful"}
    assert result.n_test == 3 * N_TEMPLATES


def test_lexical_rejects_single_word_emotion():
    words_by_emotion = {"happy": ["cheerful", "joyful"], "sad": ["gloomy"]}
    y, words, _ = design(words_by_emotion)
    X = np.random.default_rng(0).normal(size=(y.size, 3))

    with pytest.raises(InsufficientDataError, match="'sad': 1"):
        lexical_generalization(X, y, words)


def test_lexical_rejects_missing_train_entry():
    y, words, _ = design()
    X = np.random.default_rng(0).normal(size=(y.size, 3))

    with pytest.raises(ValueError, match="angry"):
        lexical_generalization(X, y, words, train_words={"happy": {"merry"}, "sad": {"gloomy"}})


def test_lexical_rejects_emotion_without_heldout_word():
    y, words, _ = design()
    X = np.random.default_rng(0).normal(size=(y.size, 3))
    train_words = {emotion: set(word_list[:2]) for emotion, word_list in WORDS.items()}
    train_words["happy"] = set(WORDS["happy"])

    with pytest.raises(InsufficientDataError, match="without held-out words: \\['happy'\\]"):
        lexical_generalization(X, y, words, train_words=train_words)


def test_lexical_rejects_word_shared_by_emotions():
    y, words, _ = design()
    words = words.copy()
    words[y == "sad"] = np.where(words[y == "sad"] == "gloomy", "merry", words[y == "sad"])
    X = np.random.default_rng(0).normal(size=(y.size, 3))

    with pytest.raises(ValueError, match="merry"):
        lexical_generalization(X, y, words)


def test_control_labels_balanced_over_words():
    words = [f"word{index}" for index in range(11)]
    labels = ["angry", "happy", "sad"]

    assignment = control_labels_for_words(words, labels, np.random.default_rng(4))
    counts = [list(assignment.values()).count(label) for label in labels]

    assert set(assignment) == set(words)
    assert max(counts) - min(counts) <= 1


def test_control_task_high_selectivity_for_emotion_direction():
    rng = np.random.default_rng(5)
    y, words, groups = design()
    X = emotion_features(y, words, rng, word_strength=0.3)

    result = control_task_selectivity(X, y, words, groups, n_control_draws=3, random_state=5)

    assert result.accuracy >= 0.9
    assert result.selectivity > 0.3
    assert result.selectivity == pytest.approx(result.accuracy - result.control_accuracy)


def test_control_task_low_selectivity_for_word_identity():
    # Every word occurs in every template, so grouped folds still show each
    # word in training and a probe can memorise word -> label for real and
    # control labels alike.
    rng = np.random.default_rng(6)
    y, words, groups = design()
    X = word_identity_features(words, rng)

    result = control_task_selectivity(X, y, words, groups, n_control_draws=3, random_state=6)

    assert result.accuracy >= 0.9
    assert result.control_accuracy >= 0.8
    assert abs(result.selectivity) < 0.2


def test_control_task_reproducible():
    rng = np.random.default_rng(7)
    y, words, groups = design()
    X = emotion_features(y, words, rng)

    first = control_task_selectivity(X, y, words, groups, random_state=8)
    second = control_task_selectivity(X, y, words, groups, random_state=8)

    assert first.control_labels == second.control_labels
    assert first.control_accuracy == second.control_accuracy
