"""The compositional level: do emotions separate in a factor space while the raw cosine stays high?

The step-averaged residual stream of every layer is concatenated per sample and standardized.
Factor analysis (10 factors, as in the research note, capped at N - 1 for N samples) and PCA
are fitted on all samples. Separation is the between-emotion over within-emotion mean
Euclidean distance in that space, next to the raw between-emotion cosine of the same features.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..analysis.compositional import fit_factor_space, raw_vs_factor, separation_score
from .common import contrast, json_safe
from .data import CaptureSet

REQUESTED_FACTORS = 10


@dataclass
class CompositionalLevel:
    """Raw cosine and factor-space separation of the residual-stream features, for FA and PCA."""

    labels: list[str]
    factor: dict[str, float]  # raw_vs_factor output for factor analysis
    pca: dict[str, float]  # separation_score output in PCA space
    pca_points: np.ndarray  # (N, 2) first two principal components

    def factor_contrast(self) -> float:
        """Return the contrast of between-emotion over within-emotion distance in factor-analysis space."""
        return contrast(self.factor["between_distance"], self.factor["within_distance"])

    def pca_contrast(self) -> float:
        """Return the contrast of between-emotion over within-emotion distance in PCA space."""
        return contrast(self.pca["between_distance"], self.pca["within_distance"])

    def details(self) -> dict:
        return json_safe({
            "requested_factors": REQUESTED_FACTORS,
            "factor_analysis": self.factor,
            "pca": self.pca,
        })

    def scatter(self) -> dict:
        """Return the scatter figure of the first two principal components by emotion."""
        return {
            "name": "compositional_pca_scatter", "kind": "scatter", "points": self.pca_points.tolist(),
            "labels": self.labels, "xlabel": "PC 1", "ylabel": "PC 2",
            "title": "Step-averaged residual stream in PCA space",
        }


def residual_features(captures: CaptureSet) -> np.ndarray:
    """Return (N, L * D): each sample's step-averaged residual stream, layers concatenated."""
    resid = captures.resid_pooled()
    return resid.reshape(resid.shape[0], -1)


def measure_compositional_level(captures: CaptureSet) -> CompositionalLevel:
    """Fit factor analysis and PCA on all samples and measure emotion separation in each space."""
    features = residual_features(captures)
    labels = captures.labels

    # Both fits cap the factor count at N - 1 and warn; the cap is recorded in the details instead.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_factors=\d+ exceeds", category=UserWarning)
        factor = raw_vs_factor(features, labels, n_factors=REQUESTED_FACTORS, method="fa")
        factor_space = fit_factor_space(features, n_factors=REQUESTED_FACTORS, method="fa")
        pca_space = fit_factor_space(features, n_factors=REQUESTED_FACTORS, method="pca")

    factor.update(separation_score(factor_space.scores, labels))
    pca = separation_score(pca_space.scores, labels)
    pca["n_factors"] = float(pca_space.n_factors)
    points = pca_space.scores[:, :2]
    if points.shape[1] < 2:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])

    return CompositionalLevel(labels=list(labels), factor=factor, pca=pca, pca_points=points)
