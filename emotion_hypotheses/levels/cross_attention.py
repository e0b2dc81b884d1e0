"""The cross_attention level: does the decoder attend to the emotion words differently per emotion?

For every sample, the cross-attention from each generation step to the prompt is reduced to
the mass on the emotion-word tokens (``text.emotion_word_mask``) per layer, head and step.
Two samples are compared by the Jensen-Shannon divergence of those two-bin rows (emotion word
vs the rest), because two bins exist whatever the prompt's length. The pairs are then split
into within-emotion and between-emotion pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.attention import attention_between_within, emotion_word_mass, mean_emotion_word_mass
from ..analysis.groups import BetweenWithin, emotion_groups
from ..capture import names
from .common import contrast
from .data import CaptureSet


@dataclass
class AttentionLevel:
    """Emotion-word attention mass by emotion and the between/within divergence of attention rows."""

    emotions: list[str]
    mass_by_head: dict[str, np.ndarray]  # emotion -> (L, H) mean mass on the emotion word
    mass_by_step: dict[str, np.ndarray]  # emotion -> (L, S) mass averaged over heads and samples
    divergence: BetweenWithin

    def divergence_contrast(self) -> float:
        """Return the contrast of between-emotion over within-emotion attention divergence."""
        return contrast(self.divergence.between_mean, self.divergence.within_mean)

    def details(self) -> dict:
        return {
            "emotions": self.emotions,
            "divergence_within": self.divergence.within_mean,
            "divergence_between": self.divergence.between_mean,
            "emotion_word_mass_per_layer": {
                emotion: mass.mean(axis=1).tolist() for emotion, mass in self.mass_by_head.items()
            },
        }

    def heatmap(self) -> dict:
        """Return the heatmap of emotion-word mass per layer and step: happy minus sad, or the first emotion's mass."""
        if "happy" in self.mass_by_step and "sad" in self.mass_by_step:
            matrix = self.mass_by_step["happy"] - self.mass_by_step["sad"]
            title = "Emotion-word attention mass, happy minus sad (mean over heads)"
        else:
            emotion = self.emotions[0]
            matrix = self.mass_by_step[emotion]
            title = f"Emotion-word attention mass, {emotion} (mean over heads)"
        return {
            "name": "cross_attention_word_mass_by_step", "kind": "heatmap", "matrix": matrix.tolist(),
            "labels_y": [str(layer) for layer in range(matrix.shape[0])], "labels_x": None, "annotate": False,
            "xlabel": "generation step", "ylabel": "decoder layer", "value_label": "attention mass", "title": title,
        }


def measure_attention_level(captures: CaptureSet) -> AttentionLevel:
    """Reduce every sample's cross-attention to emotion-word mass and compare samples by emotion."""
    weights = captures.arrays(names.DECODER_CROSS_ATTENTION)
    masks = [np.asarray(mask, dtype=bool) for mask in captures.arrays(names.TEXT_EMOTION_WORD_MASK)]
    labels = captures.labels

    mass_by_head = mean_emotion_word_mass(weights, masks, labels)
    common_steps = min(array.shape[2] for array in weights)
    per_sample = [emotion_word_mass(array, mask)[:, :, :common_steps].mean(axis=1) for array, mask in zip(weights, masks)]
    mass_by_step = {
        emotion: np.mean([per_sample[i] for i in indices], axis=0) for emotion, indices in emotion_groups(labels).items()
    }
    divergence = attention_between_within(weights, labels, masks)

    return AttentionLevel(
        emotions=sorted(set(labels)), mass_by_head=mass_by_head, mass_by_step=mass_by_step, divergence=divergence,
    )
