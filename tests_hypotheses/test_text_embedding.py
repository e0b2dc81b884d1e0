"""Level 1, text_embedding: is emotion already distinct in the instruction, the encoded prompt?

The research note predicts that if emotion lives in the input, prompts of different emotions
embed far apart: happy vs sad below 0.8, while related emotions (happy, energetic) stay above 0.9.
"""

import pytest

pytestmark = pytest.mark.text_embedding


def test_emotion_pairs_below_threshold(text_level, verdict):
    verdict.check(
        "text_embedding", "emotion_pairs_in_input", text_level.mean_pairwise(),
        details={"emotions": text_level.emotions, "matrix": text_level.matrix.tolist(), "encoder": text_level.encoder},
        figures=[text_level.heatmap()],
    )


def test_happy_vs_sad_below_threshold(text_level, verdict):
    verdict.check("text_embedding", "happy_sad", text_level.pair("happy", "sad"))


def test_happy_vs_energetic_above_threshold(text_level, verdict):
    verdict.check("text_embedding", "happy_energetic", text_level.pair("happy", "energetic"))
