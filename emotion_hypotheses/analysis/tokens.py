"""Compare the audio tokens (codebook codes) that different emotions produce.

The module offers:

- ``codebook_histograms``: per-codebook token frequency distributions of one code matrix.
- ``jensen_shannon``: the Jensen-Shannon divergence (base 2, in [0, 1]) between distributions.
- ``token_distribution_divergence``: between-emotion versus within-emotion divergence of pooled
  token distributions, per codebook, with the same number of samples pooled on both sides.
- ``used_token_jaccard``: overlap of the sets of token ids two code matrices use.
- ``sequence_similarity``: position-wise agreement and bigram overlap of two code matrices.

Codes are ``(K, F)`` integer arrays in ``[0, vocab_size)``: K codebooks by F frames, after
MusicGen's delay pattern has been undone so that column f contains every codebook's token for frame f.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.special import rel_entr

from emotion_hypotheses.analysis.groups import (
    as_labels,
    emotion_groups,
    require_emotions,
    require_samples_per_emotion,
)
from emotion_hypotheses.errors import InsufficientDataError


def _validate_codes(codes: np.ndarray, vocab_size: int | None = None, name: str = "codes") -> np.ndarray:
    codes = np.asarray(codes)

    if codes.ndim != 2:
        raise ValueError(f"{name} must have shape (K, F), got shape {codes.shape}")

    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of token ids, got dtype {codes.dtype}")

    if codes.shape[1] == 0:
        raise InsufficientDataError(f"{name} has 0 frames. Generate audio of at least one frame")

    if vocab_size is not None and (codes.min() < 0 or codes.max() >= vocab_size):
        raise ValueError(
            f"{name} contains token ids in [{codes.min()}, {codes.max()}], outside [0, {vocab_size}). "
            "Pass the model's codebook size as vocab_size"
        )

    return codes


def _codebook_counts(codes: np.ndarray, vocab_size: int) -> np.ndarray:
    return np.stack([np.bincount(row, minlength=vocab_size) for row in codes]).astype(np.float64)


def codebook_histograms(codes: np.ndarray, vocab_size: int) -> np.ndarray:
    """Compute each codebook's token frequency distribution as a ``(K, vocab_size)`` array.

    ``codes`` is ``(K, F)`` with ids in ``[0, vocab_size)``. Row k sums to 1 and entry
    ``[k, v]`` is the fraction of frames whose codebook-k token is v.
    """
    codes = _validate_codes(codes, vocab_size)
    counts = _codebook_counts(codes, vocab_size)

    return counts / counts.sum(axis=1, keepdims=True)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray | float:
    """Compute the Jensen-Shannon divergence (base 2) between distributions along the last axis.

    ``p`` and ``q`` have the same shape ``(..., V)`` and are normalized to sum to 1 along the
    last axis. Returns a float for 1-D input and an array of shape ``(...)`` otherwise.
    Values lie in [0, 1]: 0 for identical distributions and 1 for disjoint supports. This is
    the divergence, the square of the Jensen-Shannon distance that
    scipy.spatial.distance.jensenshannon returns. An all-zero row gives NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)

    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")

    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("p and q must be non-negative. Pass probabilities or counts")

    # Computed from scipy.special.rel_entr instead of scipy.spatial.distance.jensenshannon,
    # because jensenshannon returns the square root, and for (nearly) identical inputs round-off
    # makes the value under that root slightly negative, so it returns NaN (scipy 1.17.1,
    # for example p = ones(6), q = full(6, 1.62651722)).
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=-1, keepdims=True)
        q = q / q.sum(axis=-1, keepdims=True)

    # An all-zero row became NaN above (0 / 0), and rel_entr keeps it NaN, which is the documented result.
    midpoint = 0.5 * (p + q)
    divergence_nats = 0.5 * (rel_entr(p, midpoint).sum(axis=-1) + rel_entr(q, midpoint).sum(axis=-1))

    # Round-off can put the value slightly outside [0, 1].
    divergence = np.clip(divergence_nats / np.log(2.0), 0.0, 1.0)

    if divergence.ndim == 0:
        return float(divergence)

    return divergence


@dataclass(frozen=True)
class TokenDivergence:
    """Between-emotion and within-emotion Jensen-Shannon divergence of pooled token distributions.

    Every value is a ``(K,)`` array with one divergence per codebook. ``within[e]`` compares
    two disjoint halves of emotion e's samples. ``between[(a, b)]`` compares a half of a with
    a half of b. Every half pools ``samples_per_half`` samples, so both sides pool the same
    amount of data. ``within_mean`` and ``between_mean`` average over emotions and pairs.
    """

    emotions: tuple[str, ...]
    samples_per_half: int
    within: dict[str, np.ndarray]
    between: dict[tuple[str, str], np.ndarray]
    within_mean: np.ndarray
    between_mean: np.ndarray


def token_distribution_divergence(
    codes_list: Sequence[np.ndarray],
    labels: Sequence[str],
    vocab_size: int,
    seed: int | None = 0,
) -> TokenDivergence:
    """Compare token distributions between emotions and within emotions, per codebook.

    ``codes_list`` contains one ``(K, F)`` code matrix per sample (F may differ between
    samples), ``labels`` one emotion per sample. Each emotion's samples are shuffled with
    ``seed`` and split into two disjoint halves A and B of h samples each, where h is half
    the smallest emotion's sample count. Each half's codes are pooled into one histogram
    per codebook.

    Within-emotion divergence is JS(A_e, B_e). Between-emotion divergence for (a, b) is the
    mean of JS(A_a, B_b) and JS(B_a, A_b). Both sides compare two disjoint pools of h
    samples, so sampling noise inflates them equally. If emotion changes the tokens,
    between exceeds within. If labels are unrelated to the codes, the two are about equal.
    Needs at least 2 emotions and 2 samples per emotion (InsufficientDataError otherwise).
    """
    if len(codes_list) == 0:
        raise InsufficientDataError("codes_list is empty. Capture at least 2 samples per emotion")

    codes_arrays = [_validate_codes(codes, vocab_size, name=f"codes_list[{i}]") for i, codes in enumerate(codes_list)]

    n_codebooks = codes_arrays[0].shape[0]
    for i, codes in enumerate(codes_arrays):
        if codes.shape[0] != n_codebooks:
            raise ValueError(
                f"codes_list[{i}] has {codes.shape[0]} codebooks, but codes_list[0] has {n_codebooks}. "
                "Pass codes from one model"
            )

    label_list = as_labels(labels, len(codes_arrays))
    groups = emotion_groups(label_list)
    require_emotions(groups)
    require_samples_per_emotion(groups)

    samples_per_half = min(len(indices) for indices in groups.values()) // 2
    rng = np.random.default_rng(seed)

    halves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for emotion, indices in groups.items():
        shuffled = rng.permutation(indices)
        half_a = shuffled[:samples_per_half]
        half_b = shuffled[samples_per_half : 2 * samples_per_half]
        halves[emotion] = (
            _pooled_counts(codes_arrays, half_a, vocab_size),
            _pooled_counts(codes_arrays, half_b, vocab_size),
        )

    within = {emotion: jensen_shannon(pool_a, pool_b) for emotion, (pool_a, pool_b) in halves.items()}

    between: dict[tuple[str, str], np.ndarray] = {}
    for emotion_a, emotion_b in combinations(groups, 2):
        a_first, a_second = halves[emotion_a]
        b_first, b_second = halves[emotion_b]
        between[(emotion_a, emotion_b)] = 0.5 * (jensen_shannon(a_first, b_second) + jensen_shannon(a_second, b_first))

    return TokenDivergence(
        emotions=tuple(groups),
        samples_per_half=samples_per_half,
        within=within,
        between=between,
        within_mean=np.mean(np.stack(list(within.values())), axis=0),
        between_mean=np.mean(np.stack(list(between.values())), axis=0),
    )


def _pooled_counts(codes_arrays: list[np.ndarray], indices: np.ndarray, vocab_size: int) -> np.ndarray:
    return sum(_codebook_counts(codes_arrays[i], vocab_size) for i in indices)


def used_token_jaccard(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """Compute the Jaccard index of the token-id sets two code matrices use, per codebook.

    ``codes_a`` is ``(K, F_a)`` and ``codes_b`` is ``(K, F_b)``. Returns ``(K,)`` values in
    [0, 1]: 1 when both use exactly the same ids in that codebook, 0 when they share none.
    Frequencies and order are ignored.
    """
    codes_a = _validate_codes(codes_a, name="codes_a")
    codes_b = _validate_codes(codes_b, name="codes_b")
    _require_same_codebooks(codes_a, codes_b)

    jaccard = np.empty(codes_a.shape[0])
    for k, (row_a, row_b) in enumerate(zip(codes_a, codes_b)):
        set_a = set(row_a.tolist())
        set_b = set(row_b.tolist())
        jaccard[k] = len(set_a & set_b) / len(set_a | set_b)

    return jaccard


def sequence_similarity(codes_a: np.ndarray, codes_b: np.ndarray) -> dict[str, np.ndarray]:
    """Compare two code matrices position by position and by bigrams, per codebook.

    ``codes_a`` is ``(K, F_a)`` and ``codes_b`` is ``(K, F_b)``. Both are cut to the common
    length F = min(F_a, F_b). Returns two ``(K,)`` arrays in [0, 1]:

    - ``position_match``: fraction of the F frames where both have the same token.
    - ``bigram_jaccard``: Jaccard index of the sets of adjacent token pairs, which rewards
      shared local patterns even when they occur at different frames.

    Raises InsufficientDataError when F < 2, because a bigram needs two frames.
    """
    codes_a = _validate_codes(codes_a, name="codes_a")
    codes_b = _validate_codes(codes_b, name="codes_b")
    _require_same_codebooks(codes_a, codes_b)

    common_length = min(codes_a.shape[1], codes_b.shape[1])
    if common_length < 2:
        raise InsufficientDataError(
            f"the code matrices have {codes_a.shape[1]} and {codes_b.shape[1]} frames, but bigrams need "
            "a common length of at least 2. Generate longer audio"
        )

    codes_a = codes_a[:, :common_length]
    codes_b = codes_b[:, :common_length]

    position_match = np.mean(codes_a == codes_b, axis=1)

    bigram_jaccard = np.empty(codes_a.shape[0])
    for k, (row_a, row_b) in enumerate(zip(codes_a, codes_b)):
        bigrams_a = set(zip(row_a[:-1].tolist(), row_a[1:].tolist()))
        bigrams_b = set(zip(row_b[:-1].tolist(), row_b[1:].tolist()))
        bigram_jaccard[k] = len(bigrams_a & bigrams_b) / len(bigrams_a | bigrams_b)

    return {"position_match": position_match, "bigram_jaccard": bigram_jaccard}


def _require_same_codebooks(codes_a: np.ndarray, codes_b: np.ndarray) -> None:
    if codes_a.shape[0] != codes_b.shape[0]:
        raise ValueError(
            f"codes_a has {codes_a.shape[0]} codebooks and codes_b has {codes_b.shape[0]}. Pass codes from one model"
        )
