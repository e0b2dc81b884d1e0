"""The transformer_hidden level: how similar the decoder's residual stream is across emotions, layer by layer.

Each sample's residual stream after every layer is averaged over generation steps. The layer
sweep takes, at each layer, the cosine between the per-emotion means, averaged over all emotion
pairs: the research note's 0.946. Sample-pair cosines within and between emotions show
whether a between-emotion difference exceeds the spread between seeds and paraphrases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.similarity import layer_similarity_curve, pairwise_similarity_by_group
from .data import CaptureSet


@dataclass
class HiddenLevel:
    """Per-layer between-emotion cosine of emotion means, and per-layer sample-pair cosines."""

    emotions: list[str]
    curve: np.ndarray  # (L,) mean cosine between emotion means
    within: np.ndarray  # (L,) mean cosine over same-emotion sample pairs
    between: np.ndarray  # (L,) mean cosine over different-emotion sample pairs

    def mean_between_emotion(self) -> float:
        """Return the layer sweep averaged over layers."""
        return float(np.mean(self.curve))

    def details(self) -> dict:
        return {
            "emotions": self.emotions,
            "emotion_mean_cosine_per_layer": self.curve.tolist(),
            "within_pair_cosine_per_layer": self.within.tolist(),
            "between_pair_cosine_per_layer": self.between.tolist(),
            "min_layer": int(np.argmin(self.curve)),
        }

    def sweep_figure(self) -> dict:
        """Return the curve figure of the layer sweep."""
        return {
            "name": "transformer_hidden_layer_sweep", "kind": "curve",
            "series": {
                "between emotion means": self.curve.tolist(),
                "within-emotion sample pairs": self.within.tolist(),
                "between-emotion sample pairs": self.between.tolist(),
            },
            "xlabel": "decoder layer", "ylabel": "cosine", "hlines": [0.9],
            "title": "Residual stream (step-averaged) cosine by layer",
        }


def measure_hidden_level(captures: CaptureSet) -> HiddenLevel:
    """Compute the layer sweep from the step-averaged residual stream of every sample."""
    resid = captures.resid_pooled()
    labels = captures.labels
    curve = layer_similarity_curve(resid, labels)

    within = np.empty(resid.shape[1])
    between = np.empty(resid.shape[1])
    for layer in range(resid.shape[1]):
        summary = pairwise_similarity_by_group(resid[:, layer, :], labels)
        within[layer] = summary.within_mean
        between[layer] = summary.between_mean

    return HiddenLevel(emotions=sorted(set(labels)), curve=curve, within=within, between=between)
