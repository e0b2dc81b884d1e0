"""Level 6, compositional: is emotion a direction in factor space hidden by a high raw similarity?

The research note fitted 10 factors and predicts that emotions separate in factor space while
the raw similarity between emotions stays high.
"""

import pytest

pytestmark = pytest.mark.compositional


def test_raw_similarity_stays_high(compositional_level, verdict):
    verdict.check(
        "compositional", "raw_similarity", compositional_level.factor["raw_mean_cosine"],
        details=compositional_level.details(),
    )


def test_emotions_separate_in_factor_space(compositional_level, verdict):
    verdict.check(
        "compositional", "factor_separation", compositional_level.factor_contrast(),
        details=compositional_level.details(), figures=[compositional_level.scatter()],
    )


def test_emotions_separate_in_pca_space(compositional_level, verdict):
    verdict.check("compositional", "pca_separation", compositional_level.pca_contrast(), details=compositional_level.details())
