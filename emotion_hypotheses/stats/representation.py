"""Representation geometry: anisotropy-corrected cosine similarity, within- versus between-emotion similarity, linear CKA and RSA, each with a permutation test.

Transformer hidden states are anisotropic: they share a large common
direction, so raw cosine similarity between any two samples is high. The
centred and standardised cosines here remove that shared component before
comparing samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import rankdata
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import StandardScaler

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.stats._validation import (
    RandomState,
    check_features,
    check_groups_allow_permutation,
    check_n_permutations,
    check_vector,
    to_generator,
)
from emotion_hypotheses.stats.permutation import PermutationResult, permute_within_groups, pvalue_from_null


@dataclass(frozen=True)
class SimilarityEffect:
    """Mean within-emotion and between-emotion similarity, their difference and a permutation p-value."""

    within: float
    between: float
    difference: float
    pvalue: float
    null: np.ndarray


@dataclass(frozen=True)
class RSAResult:
    """Spearman correlation between a representational and a model dissimilarity matrix, with a permutation p-value."""

    rho: float
    pvalue: float
    null: np.ndarray


def _check_min_samples(X: np.ndarray, minimum: int, analysis: str) -> None:
    if X.shape[0] < minimum:
        raise InsufficientDataError(
            f"{analysis} needs at least {minimum} samples, got {X.shape[0]}; pass more rows."
        )


def _cosine_of_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1)
    zero_rows = np.flatnonzero(norms <= np.finfo(float).eps * max(1.0, float(norms.max(initial=0.0))))
    if zero_rows.size:
        raise ValueError(
            f"rows {zero_rows.tolist()} are zero after the correction, so their cosine is undefined; "
            f"remove samples that equal the mean of all samples."
        )
    return cosine_similarity(X)


def centered_cosine(X) -> np.ndarray:
    """Compute the (N, N) cosine similarity after subtracting the mean over all samples from each dimension.

    Adding the same vector to every row leaves the result unchanged. Entries
    compare how two samples deviate from the mean sample, so they are not
    inflated towards 1 by a direction that all samples share. Compare
    within- and between-emotion means (between_within_effect) rather than
    reading single values.
    """
    X = check_features(X)
    _check_min_samples(X, 2, "centered_cosine")

    return _cosine_of_rows(X - X.mean(axis=0))


def standardized_cosine(X) -> np.ndarray:
    """Compute the (N, N) cosine similarity after z-scoring each dimension over all samples.

    Constant dimensions become 0 (StandardScaler leaves their scale at 1), so
    they do not contribute. Unlike centered_cosine, this also stops a few
    high-variance dimensions from dominating.
    """
    X = check_features(X)
    _check_min_samples(X, 2, "standardized_cosine")

    return _cosine_of_rows(StandardScaler().fit_transform(X))


def _check_similarity(S, n_labels: int) -> np.ndarray:
    S = np.asarray(S, dtype=float)

    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] != n_labels:
        raise ValueError(
            f"S must be a square (N, N) similarity matrix with N = len(y) = {n_labels}, got shape {S.shape}."
        )
    if not np.all(np.isfinite(S)):
        raise ValueError("S contains NaN or infinite values; compute it from finite features.")
    if not np.allclose(S, S.T):
        raise ValueError("S must be symmetric; pass a similarity matrix such as centered_cosine(X).")

    return S


def between_within_effect(
    S,
    y,
    *,
    groups=None,
    n_permutations: int = 999,
    random_state: RandomState = 0,
) -> SimilarityEffect:
    """Test whether samples of the same emotion are more similar than samples of different emotions.

    Averages S over distinct pairs (i < j) with the same label (within) and
    with different labels (between). The null permutes y, within groups if
    groups are given, and the one-sided p-value is (C + 1) / (n + 1), where C
    counts permuted differences >= the observed one.

    A small p-value means same-emotion samples cluster in this similarity.
    A large p-value does not prove the representation ignores emotion, since the
    emotion may be encoded in a direction that the similarity measure
    dilutes.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}.")
    S = _check_similarity(S, y.shape[0])
    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    rows, columns = np.triu_indices(y.shape[0], k=1)
    same = y[rows] == y[columns]
    if not np.any(same) or np.all(same):
        raise InsufficientDataError(
            f"need at least one same-emotion pair and one different-emotion pair, got "
            f"{int(np.sum(same))} and {int(np.sum(~same))}; include at least two emotions and "
            f"at least two samples of one of them."
        )

    if groups is not None:
        groups = check_vector(groups, y.shape[0], "groups")
        check_groups_allow_permutation(y, groups)

    similarities = S[rows, columns]

    def difference(mask: np.ndarray) -> float:
        return float(similarities[mask].mean() - similarities[~mask].mean())

    within = float(similarities[same].mean())
    between = float(similarities[~same].mean())
    observed = difference(same)

    null = np.empty(n_permutations)
    for index in range(n_permutations):
        y_permuted = permute_within_groups(y, groups, rng)
        null[index] = difference(y_permuted[rows] == y_permuted[columns])

    pvalue = pvalue_from_null(observed, null, "greater")

    return SimilarityEffect(within=within, between=between, difference=observed, pvalue=pvalue, null=null)


def _centered_gram(X: np.ndarray) -> np.ndarray:
    centered = X - X.mean(axis=0)
    return centered @ centered.T


def _cka_from_grams(K: np.ndarray, L: np.ndarray) -> float:
    # With centred Gram matrices K = Xc Xc^T and L = Yc Yc^T, linear CKA
    # (HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels) is
    # <K, L>_F / (||K||_F ||L||_F), which equals the feature-space form
    # ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) of Kornblith et al.
    # (2019), "Similarity of Neural Network Representations Revisited", ICML.
    # The Gram form costs O(N^2 D), cheaper than O(N D_x D_y) when features
    # outnumber samples.
    value = np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    # CKA is mathematically in [0, 1], so clipping only removes rounding error.
    return float(np.clip(value, 0.0, 1.0))


def _check_pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X = check_features(X, "X")
    Y = check_features(Y, "Y")

    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must have the same number of rows (samples), got {X.shape[0]} and {Y.shape[0]}; "
            f"compute both representations on the same samples in the same order."
        )
    _check_min_samples(X, 2, "linear CKA")

    for name, matrix in (("X", X), ("Y", Y)):
        if np.allclose(matrix, matrix.mean(axis=0)):
            raise ValueError(
                f"{name} has no variance across samples (all rows equal), so CKA is undefined; "
                f"pass representations that differ between samples."
            )

    return X, Y


def linear_cka(X, Y) -> float:
    """Compute linear centred kernel alignment (Kornblith et al., 2019) between two representations of the same samples.

    The result lies in [0, 1], is symmetric in X and Y, equals 1 for X = Y,
    and does not change under isotropic scaling or orthogonal rotation of
    either matrix. X and Y may have different numbers of features.

    1 means the two representations arrange the samples identically up to
    rotation and scale. Unrelated representations do not give 0, especially
    when features outnumber samples, so judge a value against
    cka_permutation_test rather than against 0.
    """
    X, Y = _check_pair(X, Y)

    return _cka_from_grams(_centered_gram(X), _centered_gram(Y))


def cka_permutation_test(
    X,
    Y,
    *,
    n_permutations: int = 999,
    random_state: RandomState = 0,
    groups=None,
) -> PermutationResult:
    """Test whether linear CKA between X and Y exceeds its value when Y's rows are shuffled.

    Shuffling the rows of Y (within groups if given) breaks the sample
    correspondence while keeping each representation's own geometry. The
    p-value is (C + 1) / (n + 1), where C counts permuted CKA values >= the
    observed one.

    A small p-value means X and Y share sample-level structure. A large
    p-value does not show the representations are unrelated, only that
    their linear similarity is not detectable here. CKA is biased upwards
    when features outnumber samples, so compare the observed value with the
    null, not with 0.
    """
    X, Y = _check_pair(X, Y)
    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    if groups is not None:
        groups = check_vector(groups, X.shape[0], "groups")

    K = _centered_gram(X)
    L = _centered_gram(Y)
    observed = _cka_from_grams(K, L)

    # Permuting Y's rows permutes the rows and columns of its centred Gram
    # matrix, so L is computed once.
    indices = np.arange(X.shape[0])
    null = np.empty(n_permutations)
    for index in range(n_permutations):
        order = permute_within_groups(indices, groups, rng)
        null[index] = _cka_from_grams(K, L[np.ix_(order, order)])

    pvalue = pvalue_from_null(observed, null, "greater")

    return PermutationResult(observed=observed, null=null, pvalue=pvalue, alternative="greater")


def _model_rdm_square(y_or_model_rdm, n_samples: int) -> np.ndarray:
    model = np.asarray(y_or_model_rdm)

    if model.ndim == 1:
        if model.shape[0] != n_samples:
            raise ValueError(
                f"labels must have one entry per sample ({n_samples}), got {model.shape[0]}."
            )
        return (model[:, None] != model[None, :]).astype(float)

    if model.ndim == 2 and model.shape == (n_samples, n_samples):
        model = model.astype(float)
        if not np.allclose(model, model.T):
            raise ValueError("the model RDM must be symmetric; pass a square dissimilarity matrix.")
        return model

    raise ValueError(
        f"y_or_model_rdm must be labels of shape ({n_samples},) or a model RDM of shape "
        f"({n_samples}, {n_samples}), got shape {model.shape}."
    )


def _standardized_ranks(values: np.ndarray) -> np.ndarray:
    ranks = rankdata(values)
    return (ranks - ranks.mean()) / ranks.std()


def rsa(
    X,
    y_or_model_rdm,
    *,
    n_permutations: int = 999,
    random_state: RandomState = 0,
    groups=None,
) -> RSAResult:
    """Correlate the representational dissimilarity of X with a model RDM and test it by permuting samples.

    The representational dissimilarity matrix (RDM) is 1 - cosine between
    rows of X (scipy.spatial.distance.pdist, upper triangle). The model RDM
    is 0 for pairs with the same emotion and 1 otherwise when labels are
    given, or a caller's (N, N) matrix. rho is Spearman's correlation of the
    two upper triangles (equal to scipy.stats.spearmanr). The null permutes
    the samples of the model RDM (rows and columns together, within groups if
    given), as in the Mantel test, and p = (C + 1) / (n + 1) for rho >=
    observed.
    For an anisotropy-corrected RSA, pass X - X.mean(axis=0).

    A small p-value means the geometry of X follows the model's grouping of
    samples. A large p-value does not prove the representation ignores
    emotion, which may be encoded in few dimensions that cosine distance
    dilutes.
    """
    X = check_features(X)
    _check_min_samples(X, 3, "rsa")
    n_permutations = check_n_permutations(n_permutations, allow_zero=False)
    rng = to_generator(random_state)

    model_square = _model_rdm_square(y_or_model_rdm, X.shape[0])
    rows, columns = np.triu_indices(X.shape[0], k=1)
    model_condensed = model_square[rows, columns]
    if np.ptp(model_condensed) == 0:
        raise InsufficientDataError(
            "the model RDM is constant, so its rank correlation is undefined; with labels, include at "
            "least two emotions and at least two samples of one of them."
        )

    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            f"rows {np.flatnonzero(norms == 0).tolist()} of X are zero, so their cosine distance is "
            f"undefined; remove them."
        )
    data_rdm = pdist(X, metric="cosine")
    if np.ptp(data_rdm) == 0:
        raise ValueError("all pairwise cosine distances in X are equal, so rho is undefined.")

    if groups is not None:
        groups = check_vector(groups, X.shape[0], "groups")
        if np.asarray(y_or_model_rdm).ndim == 1:
            check_groups_allow_permutation(np.asarray(y_or_model_rdm), groups)

    # Spearman rho is the Pearson correlation of ranks. Relabelling samples
    # only rearranges the off-diagonal entries of the model RDM, so its ranks
    # are computed once and permuted with it.
    data_scores = _standardized_ranks(data_rdm)
    model_rank_square = np.zeros_like(model_square)
    model_rank_square[rows, columns] = _standardized_ranks(model_condensed)
    model_rank_square[columns, rows] = model_rank_square[rows, columns]

    def spearman(order: np.ndarray) -> float:
        permuted = model_rank_square[np.ix_(order, order)][rows, columns]
        return float(np.dot(data_scores, permuted) / data_scores.size)

    indices = np.arange(X.shape[0])
    observed = spearman(indices)

    null = np.empty(n_permutations)
    for index in range(n_permutations):
        null[index] = spearman(permute_within_groups(indices, groups, rng))

    pvalue = pvalue_from_null(observed, null, "greater")

    return RSAResult(rho=observed, pvalue=pvalue, null=null)
