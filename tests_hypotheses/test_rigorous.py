"""Rigorous tests behind each level's verdict: grouped probes, permutation nulls, controls, one correction per run.

Every test here is marked ``rigorous`` and with its level's marker, so ``-m text_embedding``
runs the raw and the rigorous tests of that level. The tests with a p-value form one family:
the ones selected in this session. A session fixture runs them all, adjusts their p-values
with --correction, and each test passes when its adjusted p-value is below --alpha.
fixtures/rigorous.toml documents what each test measures.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotion_hypotheses.errors import InsufficientDataError
from emotion_hypotheses.levels import rigorous
from emotion_hypotheses.plugin.results import HypothesisResult
from emotion_hypotheses.stats import conclusions_agree, split_seeds

pytestmark = pytest.mark.rigorous

GENERATED_LEVELS = tuple(level for level in rigorous.LEVELS if level != "text_embedding")

# Test function name -> the family test name it checks (for functions parametrized by level)
# or the (level, name) key (for single-level functions).
FAMILY_FUNCTIONS = {
    "test_primary_probe": None,
    "test_similarity_effect": "similarity_effect",
    "test_lexical_generalization": ("text_embedding", "lexical_generalization"),
    "test_rsa_emotion_geometry": ("compositional", "rsa"),
}


def level_params(levels):
    """Parametrize over ``levels``, marking each case with its level's marker."""
    return [pytest.param(level, marks=getattr(pytest.mark, level), id=level) for level in levels]


def family_key(item) -> tuple[str, str] | None:
    """Return the family test that pytest item ``item`` checks, or None for tests outside the family."""
    function = getattr(item, "originalname", None)
    if getattr(item, "module", None) is None or item.module.__name__ != __name__ or function not in FAMILY_FUNCTIONS:
        return None
    target = FAMILY_FUNCTIONS[function]
    if isinstance(target, tuple):
        return target
    level = item.callspec.params["level"]
    return (level, rigorous.PRIMARY_TESTS[level] if target is None else target)


@pytest.fixture(scope="session")
def rigorous_family(request, suite, rigorous_source):
    """Run every family test selected in this session and adjust their p-values together.

    The family comes from ``request.session.items``, which contains the same selected items in
    every pytest-xdist worker, so every worker adjusts over the same family and, with seeds
    derived from test names, gets the same p-values.
    """
    from emotion_hypotheses.levels.family_cache import cached_family

    keys = [key for key in map(family_key, request.session.items) if key is not None]
    settings = suite.settings
    return cached_family(
        settings.cache_dir / "rigorous", suite.family_fields(keys),
        lambda: rigorous.run_family(keys, rigorous_source, settings.permutations, settings.correction, settings.seed),
    )


def format_p(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def check_family_result(key, family, suite, rigorous_config, verdict) -> None:
    """Record family test ``key`` with its adjusted p-value, and fail unless that p-value is below --alpha."""
    __tracebackhide__ = True
    level, name = key
    outcome = family[key]
    if "error" in outcome.details:
        raise InsufficientDataError(f"{level}.{name} could not run: {outcome.details['error']}")
    settings = suite.settings
    alpha = settings.alpha
    significant = rigorous.supports_emotion(outcome, alpha)

    details = dict(outcome.details)
    details.update({
        "role": "primary" if outcome.primary else "supporting",
        "raw_p": outcome.raw_p, "adjusted_p": outcome.adjusted_p, "alpha": alpha,
        "chance": outcome.chance, "ci_95": list(outcome.ci) if outcome.ci is not None else None,
    })
    raw_name = rigorous_config.raw_check(level, name)
    details.update(rigorous.raw_comparison(level, raw_name, outcome.details.get("raw", {}), suite.thresholds,
                                           outcome, significant))

    verdict.record(HypothesisResult(
        level=level, name=name, description=rigorous_config.describe(level, name), measured=outcome.measured,
        kind="rigorous", p_value=outcome.adjusted_p, passed=significant, details=details,
    ))

    if not significant:
        family_size = details["family_size"]
        floor = rigorous.smallest_adjusted_p(family_size, settings.permutations, settings.correction)
        message = (
            f"{level}.{name}: measured {outcome.measured:.3f}, chance {format_p(outcome.chance)}, "
            f"raw p = {format_p(outcome.raw_p)}, adjusted p = {format_p(outcome.adjusted_p)} "
            f"({settings.correction} over {family_size} tests), alpha = {alpha}: not significant."
        )
        if outcome.adjusted_p is not None and outcome.adjusted_p < alpha:
            message = message.replace(
                "not significant.", "significant in the opposite direction (same-emotion samples less alike), "
                "which is not evidence of emotion."
            )
        if floor >= alpha:
            minimum = math.ceil(family_size / alpha)
            message += (
                f" With {settings.permutations} permutations the smallest reachable adjusted p is {floor:.3g}; "
                f"pass --permutations {minimum} or more."
            )
        raise AssertionError(message)


@pytest.mark.parametrize("level", level_params(rigorous.LEVELS))
def test_primary_probe(level, rigorous_family, suite, rigorous_config, verdict):
    check_family_result((level, rigorous.PRIMARY_TESTS[level]), rigorous_family, suite, rigorous_config, verdict)


@pytest.mark.parametrize("level", level_params(("text_embedding", "transformer_hidden")))
def test_similarity_effect(level, rigorous_family, suite, rigorous_config, verdict):
    check_family_result((level, "similarity_effect"), rigorous_family, suite, rigorous_config, verdict)


@pytest.mark.text_embedding
def test_lexical_generalization(rigorous_family, suite, rigorous_config, verdict):
    check_family_result(("text_embedding", "lexical_generalization"), rigorous_family, suite, rigorous_config, verdict)


@pytest.mark.compositional
def test_rsa_emotion_geometry(rigorous_family, suite, rigorous_config, verdict):
    check_family_result(("compositional", "rsa"), rigorous_family, suite, rigorous_config, verdict)


@pytest.mark.text_embedding
def test_control_task_selectivity(rigorous_source, rigorous_config, suite, verdict):
    __tracebackhide__ = True
    data = rigorous_source.level("text_embedding")
    outcome = rigorous.run_selectivity(data, rigorous_config, rigorous.seed_for_test(
        "text_embedding", "control_selectivity", suite.settings.seed))
    passed = outcome.measured > rigorous_config.min_selectivity
    details = dict(outcome.details, role="supporting", chance=outcome.chance, ci_95=list(outcome.ci))
    verdict.record(HypothesisResult(
        level="text_embedding", name="control_selectivity",
        description=rigorous_config.describe("text_embedding", "control_selectivity"),
        measured=outcome.measured, kind="rigorous", passed=passed, details=details,
    ))
    assert passed, (
        f"text_embedding.control_selectivity: probe accuracy {details['accuracy']:.3f} minus control-task "
        f"accuracy {details['control_accuracy']:.3f} = {outcome.measured:.3f}, not above "
        f"{rigorous_config.min_selectivity}: the probe does no better than one that memorizes words."
    )


@pytest.mark.parametrize("level", level_params(GENERATED_LEVELS))
def test_seed_split_reproducibility(level, rigorous_source, rigorous_config, suite, verdict):
    __tracebackhide__ = True
    settings = suite.settings
    data = rigorous_source.level(level)
    distinct_seeds = sorted(set(data.seeds.tolist()))
    name = "seed_split_reproducibility"
    description = f"Primary test rerun on {rigorous_config.seed_sets} disjoint seed sets; conclusions must agree"

    try:
        seed_sets = split_seeds(distinct_seeds, rigorous_config.seed_sets, random_state=settings.seed)
    except InsufficientDataError:
        verdict.record(HypothesisResult(
            level=level, name=name, description=description, measured=None, kind="rigorous", passed=None,
            details={"reason": "not enough seeds", "seeds": distinct_seeds, "seed_sets": rigorous_config.seed_sets,
                     "role": "supporting"},
        ))
        return

    conclusions = rigorous.seed_split_conclusions(data, seed_sets, rigorous_config, settings.permutations,
                                                  settings.alpha, settings.seed)
    agreement = conclusions_agree([{"emotion_decodable": item["significant"]} for item in conclusions])
    fraction = agreement["emotion_decodable"]
    passed = fraction in (0.0, 1.0)
    verdict.record(HypothesisResult(
        level=level, name=name, description=description, measured=fraction, kind="rigorous", passed=passed,
        details={"sets": conclusions, "alpha": settings.alpha, "role": "supporting",
                 "note": "raw p-value per set against alpha, no correction across sets"},
    ))
    assert passed, (
        f"{level}.{name}: the primary test is significant in {fraction:.0%} of {len(conclusions)} disjoint seed "
        f"sets (p-values {[format_p(item['p_value']) for item in conclusions]}, alpha {settings.alpha}): "
        f"the conclusion depends on the seeds."
    )
