"""The text_embedding level: how similar the prompt embeddings of different emotions are.

Each distinct prompt of the run's plan is encoded once (MusicGen's T5 encoder, or the encoder
given by --text-encoder) and mean-pooled over its real tokens. The research note's measurement is
the cosine between per-emotion means of those vectors; nothing is generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.similarity import emotion_similarity_matrix, mean_between_emotion_cosine


@dataclass
class TextLevel:
    """Mean-pooled prompt embeddings with their labels, and the emotion similarity matrix."""

    encoder: str
    emotions: list[str]
    matrix: np.ndarray
    pooled: np.ndarray
    labels: list[str]
    templates: list[str]
    texts: list[str]

    def pair(self, first: str, second: str) -> float:
        """Return the cosine between the mean embeddings of two emotions."""
        for emotion in (first, second):
            if emotion not in self.emotions:
                raise KeyError(f"emotion {emotion!r} is not in the prompt set; known: {', '.join(self.emotions)}")
        return float(self.matrix[self.emotions.index(first), self.emotions.index(second)])

    def mean_pairwise(self) -> float:
        """Return the mean cosine over all pairs of different emotions."""
        return mean_between_emotion_cosine(self.matrix)

    def heatmap(self, name: str = "text_embedding_similarity") -> dict:
        """Return the figure spec of the emotion similarity matrix."""
        return {
            "name": name, "kind": "heatmap", "matrix": self.matrix.tolist(), "labels": self.emotions,
            "title": f"Mean-pooled text embedding cosine ({self.encoder})", "value_label": "cosine",
        }


def distinct_prompts(plan) -> list:
    """Return the plan's prompts in order, each once."""
    seen = {}
    for sample in plan:
        seen.setdefault(sample.prompt.text, sample.prompt)
    return list(seen.values())


def measure_text_level(encoder, plan) -> TextLevel:
    """Encode the plan's distinct prompts with ``encoder`` and build the emotion similarity matrix."""
    prompts = distinct_prompts(plan)
    texts = [prompt.text for prompt in prompts]
    pooled = encoder.encode(texts).mean_pooled()
    labels = [prompt.emotion for prompt in prompts]
    emotions, matrix = emotion_similarity_matrix(pooled, labels)
    return TextLevel(
        encoder=encoder.name, emotions=list(emotions), matrix=np.asarray(matrix), pooled=pooled, labels=labels,
        templates=[prompt.template for prompt in prompts], texts=texts,
    )
