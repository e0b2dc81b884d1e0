"""Shared fixtures of the library tests: the tiny random MusicGen, built once per process."""

import pytest

from emotion_hypotheses.models import load_musicgen


@pytest.fixture(scope="session")
def tiny():
    """The built-in tiny MusicGen (random weights, SDPA attention)."""
    return load_musicgen("tiny")


@pytest.fixture(scope="session")
def tiny_eager():
    """The same tiny MusicGen with eager attention, which returns attention weights itself."""
    return load_musicgen("tiny", attn_implementation="eager")
