"""The acoustic level: do the decoded waveforms sound different per emotion?

RMS level, spectral centroid, onset rate, tempo and a major/minor mode estimate come from
``analysis.acoustic`` for every sample's decoded audio. A pair of emotions is compared by
Cohen's d: the difference of their means over the pooled within-emotion standard deviation,
so a difference counts only relative to the spread between seeds and paraphrases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.acoustic import acoustic_table
from ..analysis.groups import emotion_groups
from ..capture import names
from .common import contrast, json_safe
from .data import CaptureSet

NUMERIC_FEATURES = ("rms_db", "spectral_centroid_hz", "onset_rate", "tempo_bpm", "mode_score")
FEATURE_LABELS = {
    "rms_db": "RMS level (dBFS)",
    "spectral_centroid_hz": "spectral centroid (Hz)",
    "onset_rate": "onsets per second",
    "tempo_bpm": "tempo (BPM)",
    "mode_score": "major minus minor key correlation",
}


def cohens_d(first: np.ndarray, second: np.ndarray) -> float:
    """Return (mean(first) - mean(second)) / pooled standard deviation, ignoring NaN values.

    NaN when a group has fewer than 2 finite values. With zero pooled spread, 0 for equal
    means (no difference) and +-inf otherwise.
    """
    first = first[np.isfinite(first)]
    second = second[np.isfinite(second)]
    if first.size < 2 or second.size < 2:
        return float("nan")

    difference = float(np.mean(first) - np.mean(second))
    pooled_variance = ((first.size - 1) * np.var(first, ddof=1) + (second.size - 1) * np.var(second, ddof=1)) / (
        first.size + second.size - 2
    )
    pooled_sd = float(np.sqrt(pooled_variance))
    if pooled_sd > 0:
        return difference / pooled_sd
    if difference == 0:
        return 0.0
    return float(np.copysign(np.inf, difference))


@dataclass
class AcousticLevel:
    """Acoustic features of every sample, grouped by emotion, with the WAV files to listen to."""

    emotions: list[str]
    table: dict[str, np.ndarray]
    groups: dict[str, np.ndarray]  # emotion -> sample indices
    audio_examples: dict[str, list[str]]

    def by_emotion(self, feature: str) -> dict[str, np.ndarray]:
        """Return one feature's values per emotion."""
        return {emotion: self.table[feature][indices] for emotion, indices in self.groups.items()}

    def effect(self, feature: str, first: str, second: str) -> float:
        """Return Cohen's d of ``feature`` between two emotions (positive when ``first`` is higher)."""
        values = self.by_emotion(feature)
        for emotion in (first, second):
            if emotion not in values:
                raise KeyError(f"emotion {emotion!r} is not in the prompt set; known: {', '.join(self.emotions)}")
        return cohens_d(values[first], values[second])

    def details(self) -> dict:
        means = {
            feature: {emotion: float(np.nanmean(values)) if np.isfinite(values).any() else None
                      for emotion, values in self.by_emotion(feature).items()}
            for feature in NUMERIC_FEATURES
        }
        major_share = {
            emotion: float(np.mean(self.table["mode"][indices] == "major")) for emotion, indices in self.groups.items()
        }
        return json_safe({"emotions": self.emotions, "feature_means": means, "major_share": major_share})

    def boxplot(self, feature: str) -> dict:
        """Return the box plot of one feature by emotion (NaN values left out)."""
        groups = {emotion: values[np.isfinite(values)].tolist() for emotion, values in self.by_emotion(feature).items()}
        return {
            "name": f"acoustic_{feature}", "kind": "boxplot", "groups": groups, "ylabel": FEATURE_LABELS[feature],
            "title": f"{FEATURE_LABELS[feature]} by emotion",
        }


def measure_acoustic_level(captures: CaptureSet) -> AcousticLevel:
    """Compute the acoustic features of every sample's decoded waveform."""
    waveforms = captures.arrays(names.AUDIO_WAVEFORM)
    sample_rate = int(captures.meta["sample_rate"])
    labels = captures.labels

    return AcousticLevel(
        emotions=sorted(set(labels)), table=acoustic_table(waveforms, sample_rate), groups=emotion_groups(labels),
        audio_examples=captures.wav_paths(),
    )
