"""Statistics for probing emotion in model representations: grouped linear probes, permutation tests, multiple-comparison correction, lexical controls, representation similarity and seed-split reproducibility.

All functions take numpy arrays and a random_state (an int seed or a
numpy.random.Generator) and are deterministic for a fixed int seed.
"""

from emotion_hypotheses.stats.lexical import (
    LexicalResult,
    SelectivityResult,
    control_task_selectivity,
    lexical_generalization,
)
from emotion_hypotheses.stats.multiple import adjust_pvalues, reject
from emotion_hypotheses.stats.permutation import (
    PermutationResult,
    permutation_pvalue,
    permute_within_groups,
    pvalue_from_null,
    two_sample_permutation_test,
)
from emotion_hypotheses.stats.probes import ProbeResult, SweepResult, layer_sweep, probe
from emotion_hypotheses.stats.representation import (
    RSAResult,
    SimilarityEffect,
    between_within_effect,
    centered_cosine,
    cka_permutation_test,
    linear_cka,
    rsa,
    standardized_cosine,
)
from emotion_hypotheses.stats.reproducibility import conclusions_agree, split_seeds

__all__ = [
    "LexicalResult",
    "PermutationResult",
    "ProbeResult",
    "RSAResult",
    "SelectivityResult",
    "SimilarityEffect",
    "SweepResult",
    "adjust_pvalues",
    "between_within_effect",
    "centered_cosine",
    "cka_permutation_test",
    "conclusions_agree",
    "control_task_selectivity",
    "layer_sweep",
    "lexical_generalization",
    "linear_cka",
    "permutation_pvalue",
    "permute_within_groups",
    "probe",
    "pvalue_from_null",
    "reject",
    "rsa",
    "split_seeds",
    "standardized_cosine",
    "two_sample_permutation_test",
]
