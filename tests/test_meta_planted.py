"""Meta-tests: the rigorous verdict suite finds the planted signals, and only those.

Each test runs ``pytest -m rigorous`` on the verdict suite in a subprocess against one
planted model, whose levels that carry emotion are known in advance
(``emotion_hypotheses.models.planted.EXPECTED_LEVELS``), and reads the levels whose
primary rigorous test passed from reports/verdict.json.

The three runs share one run store, so a rerun of this file generates nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emotion_hypotheses.levels.rigorous import FAMILY_TESTS, LEVELS, PRIMARY_TESTS
from emotion_hypotheses.models.planted import EXPECTED_LEVELS

ROOT = Path(__file__).resolve().parent.parent

# 10 samples per emotion give 40 clips over 10 prompt templates. The meta-tests correct with
# Benjamini-Hochberg, whose adjusted p-value can reach the floor 1 / (n + 1) = 0.01 with 99
# permutations; Holm over the 11 family tests would need more than 11 / 0.05 - 1 = 219.
SAMPLES = "10"
DURATION = "0.5"
PERMUTATIONS = "99"
CORRECTION = "bh"

# The random EnCodec of the built-in models turns code differences into small acoustic
# differences, so the acoustic probe of planted-all needs longer clips and more samples than the
# other levels. It runs alone, so its family has one test and 99 permutations suffice.
ACOUSTIC_RUN = ("-m", "rigorous and acoustic", "-k", "primary_probe", "--samples", "12", "--duration", "1.0",
                "--permutations", "99")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One run store for the three planted runs of this session."""
    return tmp_path_factory.mktemp("meta-planted-cache")


def run_rigorous(pytester, cache: Path, model: str, *options: str) -> dict:
    """Run the rigorous verdict suite on ``model`` in a subprocess and return its verdict.json."""
    reports = pytester.path / f"reports-{len(options)}"
    selection = options or ("-m", "rigorous", "--samples", SAMPLES, "--duration", DURATION,
                            "--permutations", PERMUTATIONS)
    selection = (*selection, "--correction", CORRECTION)
    pytester.runpytest_subprocess(
        str(ROOT / "tests_hypotheses"), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        "--model", model, *selection, "--cache-dir", str(cache), "--reports-dir", str(reports),
        "-p", "no:cacheprovider", "-q", "-p", "no:warnings",
        timeout=600,
    )
    verdict_path = reports / "verdict.json"
    assert verdict_path.exists(), f"the {model} run wrote no {verdict_path}; see its output above."
    return json.loads(verdict_path.read_text(encoding="utf-8"))


def rigorous_results(document: dict) -> list[dict]:
    return [result for result in document["results"] if result["kind"] == "rigorous"]


def significant_levels(document: dict) -> set[str]:
    """Return the levels whose primary rigorous test passed."""
    return {
        result["level"] for result in rigorous_results(document)
        if result["name"] == PRIMARY_TESTS.get(result["level"]) and result["passed"]
    }


def check_complete_family(document: dict, family=FAMILY_TESTS) -> None:
    """Check that every family test reported an adjusted p-value, a raw p-value and the correction."""
    __tracebackhide__ = True
    reported = {(result["level"], result["name"]): result for result in rigorous_results(document)}
    missing = sorted(set(family) - set(reported))
    assert not missing, f"family tests missing from verdict.json: {missing}"
    for key in family:
        details = reported[key]["details"]
        assert reported[key]["p_value"] is not None, f"{key} has no adjusted p-value"
        assert details["raw_p"] <= reported[key]["p_value"], f"{key}: adjusted p is below the raw p"
        assert details["family_size"] == len(family), f"{key}: family size {details['family_size']}"
        assert details["correction"] == CORRECTION


def test_planted_null_finds_nothing(pytester, shared_cache):
    document = run_rigorous(pytester, shared_cache, "planted-null")

    check_complete_family(document)
    assert significant_levels(document) == set(EXPECTED_LEVELS["planted-null"])
    passed_family = [(r["level"], r["name"]) for r in rigorous_results(document) if r["p_value"] is not None and r["passed"]]
    assert passed_family == [], f"planted-null: family tests significant without any signal: {passed_family}"


def test_planted_text_only_finds_text(pytester, shared_cache):
    document = run_rigorous(pytester, shared_cache, "planted-text-only")

    check_complete_family(document)
    assert significant_levels(document) == set(EXPECTED_LEVELS["planted-text-only"])
    text = {r["name"]: r for r in rigorous_results(document) if r["level"] == "text_embedding"}
    # With 8 of the 11 family tests at p = 1, the correction may lift the held-out-word test
    # above alpha even where its raw p-value is small, so only the raw p-value is checked here.
    assert text["lexical_generalization"]["details"]["raw_p"] < 0.05, "held-out synonyms should carry the planted emotion"
    assert text["control_selectivity"]["passed"], "the probe should beat the word-memorizing control task"


def test_planted_all_finds_every_level(pytester, shared_cache):
    document = run_rigorous(pytester, shared_cache, "planted-all")
    acoustic = run_rigorous(pytester, shared_cache, "planted-all", *ACOUSTIC_RUN)

    check_complete_family(document)
    check_complete_family(acoustic, family=[("acoustic", "probe")])
    found = (significant_levels(document) - {"acoustic"}) | significant_levels(acoustic)
    assert found == set(EXPECTED_LEVELS["planted-all"])
    assert set(EXPECTED_LEVELS["planted-all"]) == set(LEVELS)
