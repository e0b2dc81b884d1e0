"""Session fixtures shared by the verdict suite: one measurement object per level, computed once."""

import pytest

from emotion_hypotheses.levels.text_embedding import measure_text_level


@pytest.fixture(scope="session")
def text_level(suite):
    """Mean-pooled prompt embeddings and the emotion similarity matrix (nothing is generated)."""
    return measure_text_level(suite.text_encoder, suite.plan)


@pytest.fixture(scope="session")
def captures(suite):
    """Every sample of the plan with its capture; generates what the run store lacks."""
    from emotion_hypotheses.levels.data import CaptureSet

    return CaptureSet(suite.captures(), model=suite.model.identity())
