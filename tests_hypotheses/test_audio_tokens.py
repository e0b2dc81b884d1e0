"""Level 3, audio_tokens: do emotions produce different token distributions?

The research note predicts different token distributions if emotion is encoded in the output
codes. "Different" is read as different beyond the spread between seeds and paraphrases of
the same emotion.
"""

import pytest

pytestmark = pytest.mark.audio_tokens


def test_token_divergence_exceeds_within(token_level, verdict):
    verdict.check(
        "audio_tokens", "token_distribution_divergence", token_level.divergence_contrast(),
        details=token_level.details(), figures=[token_level.histogram_figure()],
    )


def test_used_tokens_overlap_within(token_level, verdict):
    verdict.check("audio_tokens", "used_token_overlap", token_level.overlap_contrast(), details=token_level.details())
