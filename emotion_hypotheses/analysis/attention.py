"""Measure how cross-attention over the text prompt differs between emotions.

The module offers:

- ``emotion_word_mass``: the attention mass each (layer, head, step) puts on emotion-word tokens.
- ``mean_emotion_word_mass``: that mass averaged over steps and samples, per emotion.
- ``attention_row_divergence`` and ``attention_divergence``: Jensen-Shannon divergence between
  two samples' attention rows, per row or averaged.
- ``attention_between_within``: that divergence over within-emotion and between-emotion pairs.

Attention weights are ``(L, H, S, T)``: layers, heads, generation steps and text tokens. Each
row ``[l, h, s, :]`` is a distribution over text tokens that sums to 1 over the real tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emotion_hypotheses.analysis.groups import BetweenWithin, as_labels, between_within_pairs, emotion_groups
from emotion_hypotheses.analysis.tokens import jensen_shannon
from emotion_hypotheses.errors import InsufficientDataError


def _validate_weights(weights: np.ndarray, name: str = "weights") -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)

    if weights.ndim != 4:
        raise ValueError(f"{name} must have shape (L, H, S, T), got shape {weights.shape}")

    if np.any(weights < 0):
        raise ValueError(f"{name} contains negative values. Pass attention probabilities after the softmax")

    return weights


def _validate_word_mask(word_mask: np.ndarray, n_tokens: int, name: str = "word_mask") -> np.ndarray:
    word_mask = np.asarray(word_mask)

    if word_mask.shape != (n_tokens,):
        raise ValueError(f"{name} must have shape ({n_tokens},) to match the text tokens, got shape {word_mask.shape}")

    return word_mask.astype(bool)


def emotion_word_mass(weights: np.ndarray, word_mask: np.ndarray) -> np.ndarray:
    """Sum the attention each row puts on emotion-word tokens and return it as ``(L, H, S)``.

    ``weights`` is ``(L, H, S, T)`` and ``word_mask`` is ``(T,)``, true on the tokens of the
    emotion word. Each value lies in [0, 1] for rows that sum to 1: the fraction of that
    head's attention at that step that goes to the emotion word. A prompt without a marked
    emotion word gives all zeros.
    """
    weights = _validate_weights(weights)
    word_mask = _validate_word_mask(word_mask, weights.shape[-1])

    return weights[..., word_mask].sum(axis=-1)


def mean_emotion_word_mass(
    weights_list: Sequence[np.ndarray],
    word_masks: Sequence[np.ndarray],
    labels: Sequence[str],
) -> dict[str, np.ndarray]:
    """Average the emotion-word attention mass over steps and samples, per emotion.

    ``weights_list`` contains one ``(L, H, S, T)`` array per sample (S and T may differ
    between samples), ``word_masks`` one ``(T,)`` mask per sample. Returns a map from each
    emotion to an ``(L, H)`` array: the mean fraction of each head's attention that goes
    to the emotion word.
    """
    label_list = as_labels(labels, len(weights_list))

    if len(word_masks) != len(weights_list):
        raise ValueError(
            f"got {len(word_masks)} word masks for {len(weights_list)} attention arrays. Pass one per sample"
        )

    per_sample = [emotion_word_mass(weights, mask).mean(axis=-1) for weights, mask in zip(weights_list, word_masks)]

    return {
        emotion: np.mean(np.stack([per_sample[i] for i in indices]), axis=0)
        for emotion, indices in emotion_groups(label_list).items()
    }


def attention_row_divergence(
    weights_a: np.ndarray,
    weights_b: np.ndarray,
    word_mask_a: np.ndarray | None = None,
    word_mask_b: np.ndarray | None = None,
) -> np.ndarray:
    """Compute the Jensen-Shannon divergence (base 2) between matching attention rows, as ``(L, H, S)``.

    ``weights_a`` and ``weights_b`` are ``(L, H, S_a, T_a)`` and ``(L, H, S_b, T_b)`` with the
    same L and H. Only the first min(S_a, S_b) steps are compared. Values lie in [0, 1],
    0 for identical rows.

    Without word masks, rows are compared token by token, which needs T_a == T_b and is
    only meaningful when the prompts align position by position (one template). With both
    word masks, each row is reduced to two bins (mass on the emotion word, mass on all other
    tokens), which works for any T_a and T_b. A row with zero total mass gives NaN.
    """
    weights_a = _validate_weights(weights_a, "weights_a")
    weights_b = _validate_weights(weights_b, "weights_b")

    if weights_a.shape[:2] != weights_b.shape[:2]:
        raise ValueError(
            f"weights_a has (L, H) = {weights_a.shape[:2]} and weights_b has {weights_b.shape[:2]}. "
            "Pass attention from one model"
        )

    common_steps = min(weights_a.shape[2], weights_b.shape[2])
    if common_steps == 0:
        raise InsufficientDataError("an attention array has 0 generation steps. Generate at least one step")

    weights_a = weights_a[:, :, :common_steps, :]
    weights_b = weights_b[:, :, :common_steps, :]

    if (word_mask_a is None) != (word_mask_b is None):
        raise ValueError("pass both word masks or neither")

    if word_mask_a is not None and word_mask_b is not None:
        rows_a = _two_bin_rows(weights_a, _validate_word_mask(word_mask_a, weights_a.shape[-1], "word_mask_a"))
        rows_b = _two_bin_rows(weights_b, _validate_word_mask(word_mask_b, weights_b.shape[-1], "word_mask_b"))
        return jensen_shannon(rows_a, rows_b)

    if weights_a.shape[-1] != weights_b.shape[-1]:
        raise ValueError(
            f"weights_a has {weights_a.shape[-1]} text tokens and weights_b has {weights_b.shape[-1]}. "
            "Pass word_mask_a and word_mask_b to compare emotion-word mass instead of tokens"
        )

    return jensen_shannon(weights_a, weights_b)


def _two_bin_rows(weights: np.ndarray, word_mask: np.ndarray) -> np.ndarray:
    word_mass = weights[..., word_mask].sum(axis=-1)
    other_mass = weights[..., ~word_mask].sum(axis=-1)

    return np.stack([word_mass, other_mass], axis=-1)


def attention_divergence(
    weights_a: np.ndarray,
    weights_b: np.ndarray,
    word_mask_a: np.ndarray | None = None,
    word_mask_b: np.ndarray | None = None,
) -> float:
    """Average ``attention_row_divergence`` over all (layer, head, step) rows.

    Returns one value in [0, 1], 0 for identical attention. Rows with zero total mass are
    skipped. Raises InsufficientDataError when every row has zero mass.
    """
    rows = attention_row_divergence(weights_a, weights_b, word_mask_a, word_mask_b)

    if np.all(np.isnan(rows)):
        raise InsufficientDataError(
            "every attention row has zero total mass, so no divergence is defined. "
            "Check that the capture recorded attention probabilities"
        )

    return float(np.nanmean(rows))


def attention_between_within(
    weights_list: Sequence[np.ndarray],
    labels: Sequence[str],
    word_masks: Sequence[np.ndarray] | None = None,
) -> BetweenWithin:
    """Compute ``attention_divergence`` for every pair of samples and split the pairs by emotion.

    ``weights_list`` contains one ``(L, H, S, T)`` array per sample. With ``word_masks``
    (one ``(T,)`` mask per sample), samples are compared by emotion-word mass. Without them,
    token by token (see ``attention_row_divergence``). Between-emotion divergence above
    within-emotion divergence means emotion changes where the decoder attends. Needs at
    least 2 emotions and 2 samples per emotion. Costs N (N - 1) / 2 divergences for N samples.
    """
    if word_masks is None:
        return between_within_pairs(list(weights_list), labels, attention_divergence)

    if len(word_masks) != len(weights_list):
        raise ValueError(
            f"got {len(word_masks)} word masks for {len(weights_list)} attention arrays. Pass one per sample"
        )

    items = list(zip(weights_list, word_masks))

    def masked_divergence(item_a: tuple[np.ndarray, np.ndarray], item_b: tuple[np.ndarray, np.ndarray]) -> float:
        return attention_divergence(item_a[0], item_b[0], item_a[1], item_b[1])

    return between_within_pairs(items, labels, masked_divergence)
