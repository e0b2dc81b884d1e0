"""Synthesis: which of the research note's candidate locations does the evidence of all levels match?

The evidence is each level's primary probe, recomputed here because under pytest-xdist this test
may run on another worker than the level tests.
"""

import pytest

from emotion_hypotheses.plugin.results import HypothesisResult

pytestmark = pytest.mark.synthesis


def test_synthesis_names_location(synthesis_level, verdict):
    matched = synthesis_level.matches()
    verdict.record(HypothesisResult(
        level="synthesis", name="location", description="Where emotion is encoded", measured=float(len(matched)),
        passed=bool(matched), details=synthesis_level.details(), figures=[synthesis_level.figure()],
    ))
    assert matched, synthesis_level.statement()
