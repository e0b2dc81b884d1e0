"""Lexical controls for emotion probes: generalisation to held-out emotion words and Hewitt & Liang control-task selectivity.

A probe that only memorises which emotion word was in the prompt passes a
plain probe test. lexical_generalization trains on some words per emotion
and tests on held-out synonyms. control_task_selectivity compares the real
probe with a probe for random per-word labels (Hewitt and Liang, "Designing
and Interpreting Probes with Control Tasks", EMNLP 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats._validation import (
    RandomState,
    check_features,
    check_n_permutations,
    check_vector,
    to_generator,
)
from emotion_hypotheses.stats.probes import (
    ProbeResult,
    chance_levels,
    make_probe,
    probe,
    single_threaded_blas,
    wilson_interval,
)


@dataclass(frozen=True)
class LexicalResult:
    """Held-out-word accuracy with chance, a 95% Wilson interval and a permutation p-value.

    chance is the larger of 1 / n_classes and the majority-class rate among
    held-out samples. train_words and heldout_words map each emotion to the
    words used for training and for testing.
    """

    accuracy: float
    chance: float
    accuracy_above_chance: float
    ci_low: float
    ci_high: float
    pvalue: float
    null_accuracies: np.ndarray
    n_train: int
    n_test: int
    train_words: dict[str, frozenset[str]]
    heldout_words: dict[str, frozenset[str]]


@dataclass(frozen=True)
class SelectivityResult:
    """Real-label and control-task probe accuracies and their difference (selectivity).

    control_accuracy is the mean over control_accuracies, one per random
    word-to-label assignment. control_labels is the word-to-label assignment
    of the first draw.
    """

    accuracy: float
    control_accuracy: float
    selectivity: float
    control_accuracies: np.ndarray
    control_labels: dict[str, str]
    real: ProbeResult


def _words_by_emotion(y: np.ndarray, words: np.ndarray) -> dict[str, list[str]]:
    """Map each emotion to its sorted distinct words, rejecting a word used for two emotions."""
    emotions_of_word: dict[str, set[str]] = {}
    for label, word in zip(y.tolist(), words.tolist()):
        emotions_of_word.setdefault(str(word), set()).add(str(label))

    ambiguous = {word: sorted(labels) for word, labels in emotions_of_word.items() if len(labels) > 1}
    if ambiguous:
        raise ValueError(
            f"each emotion word must belong to a single emotion, but {ambiguous} belong to several; "
            f"fix the prompt set so every word names one emotion."
        )

    by_emotion: dict[str, list[str]] = {}
    for word, labels in emotions_of_word.items():
        by_emotion.setdefault(next(iter(labels)), []).append(word)

    return {emotion: sorted(word_list) for emotion, word_list in sorted(by_emotion.items())}


def _split_words(
    by_emotion: dict[str, list[str]], train_words: dict[str, set] | None
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Split each emotion's words into training and held-out sets."""
    too_few = {emotion: len(word_list) for emotion, word_list in by_emotion.items() if len(word_list) < 2}
    if too_few:
        raise InsufficientDataError(
            f"lexical generalisation needs at least 2 distinct words per emotion, got {too_few}; "
            f"add synonyms for these emotions to the prompt set."
        )

    if train_words is None:
        # Deterministic default: the first half of the sorted words (rounded up)
        # trains, the rest is held out.
        train = {e: frozenset(w[: (len(w) + 1) // 2]) for e, w in by_emotion.items()}
    else:
        missing = sorted(set(by_emotion) - set(train_words))
        if missing:
            raise ValueError(
                f"train_words has no entry for the emotions {missing}; "
                f"give every emotion in y a set of training words."
            )
        train = {}
        for emotion, word_list in by_emotion.items():
            requested = {str(word) for word in train_words[emotion]}
            unknown = sorted(requested - set(word_list))
            if unknown:
                raise ValueError(
                    f"train_words[{emotion!r}] contains {unknown}, which are not words of {emotion!r} "
                    f"in the data (known: {word_list}); fix the word lists."
                )
            train[emotion] = frozenset(requested)

    heldout = {e: frozenset(set(by_emotion[e]) - train[e]) for e in by_emotion}

    no_train = sorted(e for e in by_emotion if not train[e])
    no_heldout = sorted(e for e in by_emotion if not heldout[e])
    if no_train or no_heldout:
        raise InsufficientDataError(
            f"every emotion needs at least one training word and one held-out word; "
            f"emotions without training words: {no_train}, without held-out words: {no_heldout}; "
            f"move one word per listed emotion to the other side of train_words."
        )

    return train, heldout


@single_threaded_blas
def lexical_generalization(
    X,
    y,
    words,
    *,
    train_words: dict[str, set] | None = None,
    C: float = 1.0,
    n_permutations: int = 999,
    random_state: RandomState = 0,
) -> LexicalResult:
    """Train a probe on some emotion words and measure its accuracy on held-out synonyms.

    For each emotion, samples whose word is in train_words[emotion] train the
    probe and samples with its other words test it. Without train_words, the
    sorted words of each emotion are split in half (the first half, rounded
    up, trains). The permutation null shuffles the training labels, refits
    and scores the held-out samples, with p = (C + 1) / (n + 1). The cost is
    n_permutations + 1 fits.

    A small p-value means the probe transfers to words it never saw, so X
    encodes the emotion beyond the identity of the word. A large p-value
    does not prove the encoding is lexical only: the held-out words may be
    weaker synonyms, or the data too few.

    Raises InsufficientDataError when an emotion has fewer than 2 distinct
    words or no word on one side of the split.
    """
    X = check_features(X)
    y = check_vector(y, X.shape[0], "y")
    words = check_vector(words, X.shape[0], "words")
    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    by_emotion = _words_by_emotion(y, words)
    if len(by_emotion) < 2:
        raise InsufficientDataError(
            f"a probe needs at least 2 emotions, got {len(by_emotion)} ({list(by_emotion)}); "
            f"include samples of at least two emotions."
        )
    train, heldout = _split_words(by_emotion, train_words)

    all_train_words = set().union(*train.values())
    word_strings = np.array([str(word) for word in words.tolist()])
    is_train = np.isin(word_strings, sorted(all_train_words))
    X_train, y_train = X[is_train], y[is_train]
    X_test, y_test = X[~is_train], y[~is_train]

    model = make_probe(C).fit(X_train, y_train)
    correct = model.predict(X_test) == y_test
    accuracy = float(np.mean(correct))

    null_accuracies = np.empty(n_permutations)
    for index in range(n_permutations):
        y_permuted = y_train[rng.permutation(y_train.size)]
        null_model = make_probe(C).fit(X_train, y_permuted)
        null_accuracies[index] = np.mean(null_model.predict(X_test) == y_test)

    # Held-out accuracies are multiples of 1 / n_test computed the same way,
    # so exact comparison counts ties correctly.
    pvalue = (np.count_nonzero(null_accuracies >= accuracy) + 1) / (n_permutations + 1)

    chance, _, _ = chance_levels(y_test)
    ci_low, ci_high = wilson_interval(int(np.sum(correct)), int(y_test.size))

    return LexicalResult(
        accuracy=accuracy,
        chance=float(chance),
        accuracy_above_chance=float(accuracy - chance),
        ci_low=ci_low,
        ci_high=ci_high,
        pvalue=float(pvalue),
        null_accuracies=null_accuracies,
        n_train=int(y_train.size),
        n_test=int(y_test.size),
        train_words=train,
        heldout_words=heldout,
    )


def control_labels_for_words(distinct_words: list[str], labels: list[str], rng: np.random.Generator) -> dict[str, str]:
    """Assign each word a random label so that label counts over words differ by at most one."""
    balanced = np.resize(np.array(labels, dtype=object), len(distinct_words))
    shuffled = balanced[rng.permutation(len(distinct_words))]
    return {word: str(label) for word, label in zip(distinct_words, shuffled)}


@single_threaded_blas
def control_task_selectivity(
    X,
    y,
    words,
    groups,
    *,
    n_splits: int = 5,
    C: float = 1.0,
    n_control_draws: int = 1,
    random_state: RandomState = 0,
) -> SelectivityResult:
    """Compare the real probe with a control-task probe on random per-word labels (Hewitt & Liang).

    Each distinct word gets a random label from the set of emotions in y,
    balanced over words, and every sample takes its word's control label.
    The control labels are probed with the same probe and grouped
    cross-validation as the real ones. With n_control_draws > 1 the control
    accuracy is averaged over independent assignments, which lowers its
    variance when there are few words. selectivity = accuracy -
    control_accuracy.

    High selectivity means the probe's accuracy reflects emotion structure in
    X rather than its capacity to memorise word identity. Selectivity near 0
    means the real accuracy is no better than memorising words. This
    function returns no p-value, so use lexical_generalization or probe(...,
    n_permutations=...) for significance.
    """
    X = check_features(X)
    y = check_vector(y, X.shape[0], "y")
    words = check_vector(words, X.shape[0], "words")
    groups = check_vector(groups, X.shape[0], "groups")
    if not isinstance(n_control_draws, int) or n_control_draws < 1:
        raise ValueError(f"n_control_draws must be an int >= 1, got {n_control_draws!r}; pass for example 5.")
    rng = to_generator(random_state)

    labels = sorted({str(label) for label in y.tolist()})
    word_strings = [str(word) for word in words.tolist()]
    distinct_words = sorted(set(word_strings))
    if len(distinct_words) < len(labels):
        raise InsufficientDataError(
            f"the control task needs at least as many distinct words as emotions, got "
            f"{len(distinct_words)} words for {len(labels)} emotions; add emotion words to the prompt set."
        )

    real = probe(X, np.array([str(label) for label in y.tolist()]), groups, n_splits=n_splits, C=C)

    control_accuracies = np.empty(n_control_draws)
    first_assignment: dict[str, str] = {}
    for draw in range(n_control_draws):
        assignment = control_labels_for_words(distinct_words, labels, rng)
        if draw == 0:
            first_assignment = assignment
        y_control = np.array([assignment[word] for word in word_strings])
        control_accuracies[draw] = probe(X, y_control, groups, n_splits=n_splits, C=C).accuracy

    control_accuracy = float(np.mean(control_accuracies))

    return SelectivityResult(
        accuracy=real.accuracy,
        control_accuracy=control_accuracy,
        selectivity=real.accuracy - control_accuracy,
        control_accuracies=control_accuracies,
        control_labels=first_assignment,
        real=real,
    )
