"""Level 2, transformer_hidden: does the decoder's residual stream stay alike across emotions?

The research note measured 0.946 between emotions and predicts a similarity above 0.9 under
every hypothesis, so this level cannot tell the hypotheses apart on its own.
"""

import pytest

pytestmark = pytest.mark.transformer_hidden


def test_layer_sweep_above_threshold(hidden_level, verdict):
    verdict.check(
        "transformer_hidden", "emotion_similarity", hidden_level.mean_between_emotion(),
        details=hidden_level.details(), figures=[hidden_level.sweep_figure()],
    )
