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

    return CaptureSet(suite.captures(), model=suite.model_identity)


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
def rigorous_config():
    """Alpha-independent settings of the rigorous tests (fixtures/rigorous.toml)."""
    from emotion_hypotheses.levels import rigorous

    return rigorous.load_config()


@pytest.fixture(scope="session")
def rigorous_source(suite, rigorous_config):
    """Each level's features, built on first use. Only generated levels start generation."""
    from emotion_hypotheses.levels import rigorous
    from emotion_hypotheses.levels.data import CaptureSet

    return rigorous.FeatureSource(
        lambda: rigorous.text_level_data(suite.text_encoder, suite.plan),
        lambda: CaptureSet(suite.captures(), model=suite.model_identity),
        rigorous_config,
    )


@pytest.fixture(scope="session")
def synthesis_level(suite, rigorous_source):
    """Probe evidence per level, adjusted across levels, and the note's patterns it matches."""
    from emotion_hypotheses.levels import rigorous
    from emotion_hypotheses.levels.family_cache import cached_family
    from emotion_hypotheses.levels.synthesis import measure_synthesis, synthesis_keys

    settings = suite.settings
    keys = synthesis_keys()
    family = cached_family(
        settings.cache_dir / "rigorous", suite.family_fields(keys),
        lambda: rigorous.run_family(keys, rigorous_source, settings.permutations, settings.correction, settings.seed),
    )
    return measure_synthesis(family, alpha=settings.alpha, correction=settings.correction)
