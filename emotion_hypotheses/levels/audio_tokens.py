"""The audio_tokens level: do emotions produce different EnCodec token distributions?

Each sample's codes (de-delayed frames, one row per codebook) are compared three ways, each
between emotions and within emotions (same emotion, other seeds and paraphrases). The three
are the Jensen-Shannon divergence of pooled token histograms per codebook, the Jaccard overlap
of the sets of used token ids, and frame-by-frame sequence similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.groups import BetweenWithin, between_within_pairs, emotion_groups
from ..analysis.tokens import (
    TokenDivergence,
    codebook_histograms,
    sequence_similarity,
    token_distribution_divergence,
    used_token_jaccard,
)
from ..capture import names
from .common import contrast
from .data import CaptureSet


@dataclass
class TokenLevel:
    """Token divergence, used-token overlap and sequence similarity, each between and within emotions."""

    vocab_size: int
    divergence: TokenDivergence
    overlap: BetweenWithin
    position_match: BetweenWithin
    bigram_overlap: BetweenWithin
    histograms: dict[str, np.ndarray]  # emotion -> (K, vocab_size) pooled token frequencies

    def divergence_contrast(self) -> float:
        """Return the contrast of between-emotion over within-emotion JS divergence, averaged over codebooks."""
        return contrast(float(np.mean(self.divergence.between_mean)), float(np.mean(self.divergence.within_mean)))

    def overlap_contrast(self) -> float:
        """Return the contrast of within-emotion over between-emotion Jaccard overlap of the used token sets."""
        return contrast(self.overlap.within_mean, self.overlap.between_mean)

    def details(self) -> dict:
        return {
            "emotions": list(self.divergence.emotions),
            "js_within_per_codebook": self.divergence.within_mean.tolist(),
            "js_between_per_codebook": self.divergence.between_mean.tolist(),
            "js_samples_per_half": self.divergence.samples_per_half,
            "used_token_jaccard_within": self.overlap.within_mean,
            "used_token_jaccard_between": self.overlap.between_mean,
            "position_match_within": self.position_match.within_mean,
            "position_match_between": self.position_match.between_mean,
            "bigram_jaccard_within": self.bigram_overlap.within_mean,
            "bigram_jaccard_between": self.bigram_overlap.between_mean,
        }

    def histogram_figure(self, codebook: int = 0) -> dict:
        """Return the histogram figure of one codebook's token frequencies per emotion."""
        return {
            "name": f"audio_tokens_histogram_codebook{codebook}", "kind": "histogram",
            "series": {emotion: hist[codebook].tolist() for emotion, hist in self.histograms.items()},
            "xlabel": "token id", "ylabel": "frequency",
            "title": f"Token frequencies of codebook {codebook} by emotion",
        }


def measure_token_level(captures: CaptureSet) -> TokenLevel:
    """Compare the de-delayed codes of every sample between and within emotions."""
    codes = [np.asarray(frames, dtype=np.int64) for frames in captures.arrays(names.CODES_FRAMES)]
    labels = captures.labels
    vocab_size = int(captures.meta["vocab_size"])

    divergence = token_distribution_divergence(codes, labels, vocab_size)
    overlap = between_within_pairs(codes, labels, lambda a, b: float(np.mean(used_token_jaccard(a, b))))
    position_match = between_within_pairs(
        codes, labels, lambda a, b: float(np.mean(sequence_similarity(a, b)["position_match"])),
    )
    bigram_overlap = between_within_pairs(
        codes, labels, lambda a, b: float(np.mean(sequence_similarity(a, b)["bigram_jaccard"])),
    )

    histograms = {}
    for emotion, indices in emotion_groups(labels).items():
        histograms[emotion] = np.mean([codebook_histograms(codes[i], vocab_size) for i in indices], axis=0)

    return TokenLevel(
        vocab_size=vocab_size, divergence=divergence, overlap=overlap, position_match=position_match,
        bigram_overlap=bigram_overlap, histograms=histograms,
    )
