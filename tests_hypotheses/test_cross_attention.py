"""Level 4, cross_attention: does emotion change how the decoder attends to the emotion words?

The research note predicts different attention to the emotion words if emotion enters through
the conditioning. "Different" is read as different beyond the spread between seeds and
paraphrases of the same emotion.
"""

import pytest

pytestmark = pytest.mark.cross_attention


def test_attention_divergence_exceeds_within(attention_level, verdict):
    verdict.check(
        "cross_attention", "emotion_word_attention", attention_level.divergence_contrast(),
        details=attention_level.details(), figures=[attention_level.heatmap()],
    )
