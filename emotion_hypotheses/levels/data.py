"""Captured samples as arrays for analyses: labels, groups, and stacked capture points.

``CaptureSet`` reads arrays from the run store on demand, so a level loads only the capture
points it analyses, and it caches each stacked array for the other tests of the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..capture import names


@dataclass
class CaptureSet:
    """The run's captured samples (conditional half) with the labels analyses group them by."""

    samples: list  # CapturedSample, in plan order
    model: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.samples)

    @cached_property
    def labels(self) -> list[str]:
        """The emotion of each sample."""
        return [item.sample.emotion for item in self.samples]

    @cached_property
    def emotions(self) -> list[str]:
        """Emotions in plan order."""
        return list(dict.fromkeys(self.labels))

    @cached_property
    def templates(self) -> list[str]:
        """The prompt template id of each sample: the groups of grouped cross-validation."""
        return [item.sample.prompt.template for item in self.samples]

    @cached_property
    def words(self) -> list[str]:
        """The first marked emotion word of each sample's prompt, for the lexical control."""
        return [item.sample.prompt.emotion_words[0].word.lower() for item in self.samples]

    @cached_property
    def seeds(self) -> list[int]:
        return [item.sample.seed for item in self.samples]

    @cached_property
    def meta(self) -> dict:
        """The metadata of the first sample: model, generation settings, sample and frame rates."""
        return self.samples[0].entry.meta

    def arrays(self, name: str) -> list[np.ndarray]:
        """Return capture point ``name`` of every sample, as float32 for float arrays."""
        key = ("list", name)
        if key not in self._cache:
            self._cache[key] = [item.array(name) for item in self.samples]
        return self._cache[key]

    def stacked(self, name: str) -> np.ndarray:
        """Return capture point ``name`` of every sample stacked on a new first axis (equal shapes only)."""
        key = ("stack", name)
        if key not in self._cache:
            self._cache[key] = np.stack(self.arrays(name))
        return self._cache[key]

    def resid_pooled(self) -> np.ndarray:
        """Return (N, L, D): the residual stream after each layer, averaged over generation steps."""
        key = ("resid_pooled",)
        if key not in self._cache:
            self._cache[key] = np.stack([resid.mean(axis=1) for resid in self.arrays(names.DECODER_RESID_POST)])
        return self._cache[key]

    def wav_paths(self, per_emotion: int = 3) -> dict[str, list[str]]:
        """Return up to ``per_emotion`` WAV paths per emotion, for the report's listening links."""
        paths: dict[str, list[str]] = {}
        for item in self.samples:
            chosen = paths.setdefault(item.sample.emotion, [])
            if len(chosen) < per_emotion:
                chosen.append(str(item.entry.file_path(names.AUDIO_FILE)))
        return paths
