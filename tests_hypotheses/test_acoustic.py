"""Acoustic features: does the decoded audio carry the emotion a listener would hear?

The research note predicts that happy music is brighter (higher spectral centroid) and faster
(more onsets per second) than sad music.
"""

import math

import pytest

from emotion_hypotheses.plugin.results import HypothesisResult

pytestmark = pytest.mark.acoustic


def check_effect(verdict, name: str, measured: float, details: dict, figures: list) -> None:
    """Check ``measured`` against ``acoustic.name``; record a non-finite effect with no measured value.

    The report is strict JSON, so NaN (undefined) and +-inf (zero spread in both emotions) are
    recorded as None with the outcome and the value in the details.
    """
    if math.isfinite(measured):
        verdict.check("acoustic", name, measured, details=details, figures=figures)
        return

    threshold = verdict.thresholds.get("acoustic", name)
    passed = threshold.passes(measured)
    details = {**details, "effect": str(measured)}
    verdict.record(HypothesisResult(
        level="acoustic", name=name, description=threshold.description, measured=None, op=threshold.op,
        threshold=threshold.value, source=threshold.source, passed=passed, details=details, figures=figures,
    ))
    if passed:
        return
    if not math.isnan(measured):
        pytest.fail(threshold.explain(measured))
    pytest.fail(f"{threshold.label}: the effect is undefined because an emotion has fewer than 2 samples with a "
                "finite value (silent audio has no spectral centroid); raise --samples or --duration")


def test_happy_brighter_than_sad(acoustic_level, verdict):
    details = acoustic_level.details()
    details["audio_examples"] = acoustic_level.audio_examples
    figures = [acoustic_level.boxplot(feature) for feature in ("spectral_centroid_hz", "rms_db", "mode_score")]
    check_effect(
        verdict, "happy_sad_centroid", acoustic_level.effect("spectral_centroid_hz", "happy", "sad"), details, figures,
    )


def test_happy_faster_than_sad(acoustic_level, verdict):
    figures = [acoustic_level.boxplot("onset_rate"), acoustic_level.boxplot("tempo_bpm")]
    check_effect(
        verdict, "happy_sad_onset_rate", acoustic_level.effect("onset_rate", "happy", "sad"),
        acoustic_level.details(), figures,
    )
