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


@pytest.fixture(scope="session")
def hidden_level(captures):
    """Layer sweep of between-emotion and within-emotion cosine of the step-averaged residual stream."""
    from emotion_hypotheses.levels.transformer_hidden import measure_hidden_level

    return measure_hidden_level(captures)


@pytest.fixture(scope="session")
def token_level(captures):
    """Per-codebook token distributions, used-token overlap and sequence similarity by emotion."""
    from emotion_hypotheses.levels.audio_tokens import measure_token_level

    return measure_token_level(captures)


@pytest.fixture(scope="session")
def attention_level(captures):
    """Cross-attention mass on the emotion words and attention divergence by emotion."""
    from emotion_hypotheses.levels.cross_attention import measure_attention_level

    return measure_attention_level(captures)


@pytest.fixture(scope="session")
def dynamics_level(captures):
    """Velocities, temporal variance and trajectory divergence of the residual stream."""
    from emotion_hypotheses.levels.dynamics import measure_dynamics_level

    return measure_dynamics_level(captures)


@pytest.fixture(scope="session")
def compositional_level(captures):
    """Factor-analysis and PCA spaces of the step-averaged residual stream, with emotion separation."""
    from emotion_hypotheses.levels.compositional import measure_compositional_level

    return measure_compositional_level(captures)


@pytest.fixture(scope="session")
def acoustic_level(captures):
    """RMS level, spectral centroid, onset rate, tempo and mode of the decoded audio by emotion."""
    from emotion_hypotheses.levels.acoustic import measure_acoustic_level

    return measure_acoustic_level(captures)


@pytest.fixture(scope="session")
def synthesis_level(captures):
    """One comparable evidence score per level and the note's pattern that the scores match."""
    from emotion_hypotheses.levels.synthesis import measure_synthesis

    return measure_synthesis(captures)
