"""The pytest plugin end to end: options, lazy loading, reports, JUnit and pytest-xdist workers."""

import json
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

GENERATION_TEST = '''
import pytest

@pytest.mark.transformer_hidden
@pytest.mark.parametrize("part", range(4))
def test_reads_captures(captures, part):
    assert len(captures) == 2 * len(captures.emotions)
    assert captures.resid_pooled().shape[0] == len(captures)
'''


def run_suite(pytester, *args, tests=None):
    """Run the verdict suite in a subprocess with its store and reports in the pytester directory."""
    target = tests or str(ROOT / "tests_hypotheses")
    return pytester.runpytest_subprocess(
        target, "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(pytester.path / "store"), "--reports-dir", str(pytester.path / "reports"), *args,
    )


def test_text_level_writes_report_and_junit(pytester):
    junit = pytester.path / "junit.xml"
    result = run_suite(pytester, "-m", "text_embedding", "--model", "tiny", f"--junitxml={junit}")
    result.stdout.fnmatch_lines(["*emotion-hypotheses verdict*", "*RANDOM WEIGHTS (tiny)*", "*text_embedding.happy_sad*"])

    verdict = json.loads((pytester.path / "reports" / "verdict.json").read_text())
    assert verdict["run"]["weights_origin"] == "random"
    assert "RANDOM WEIGHTS" in verdict["notice"]
    names = {entry["name"] for entry in verdict["results"]}
    assert {"happy_sad", "happy_energetic", "emotion_pairs_in_input"} <= names
    for entry in verdict["results"]:
        assert isinstance(entry["measured"], float)
        if entry["kind"] == "raw":
            assert entry["source"]

    markdown = (pytester.path / "reports" / "verdict.md").read_text()
    assert markdown.index("RANDOM WEIGHTS") < markdown.index("## Verdict table")
    assert (pytester.path / "reports" / "figures" / "text_embedding_similarity.png").stat().st_size > 1000

    properties = {
        element.get("name"): element.get("value")
        for element in ElementTree.parse(junit).iter("property")
    }
    assert "text_embedding.happy_sad.measured" in properties
    assert properties["text_embedding.happy_sad.threshold"] == "< 0.8"


def test_text_level_generates_nothing(pytester):
    result = run_suite(pytester, "-m", "text_embedding", "--model", "tiny", "-s")
    assert "generating" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "store" / "generation.log").exists()


def test_failure_message_shows_value_and_threshold(pytester):
    result = run_suite(pytester, "-m", "text_embedding and not rigorous", "--model", "tiny")
    outcomes = result.parseoutcomes()
    if outcomes.get("failed"):
        result.stdout.fnmatch_lines(["*measured *, expected * (note: *"])
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3


def test_workers_generate_each_sample_once(pytester):
    tests = pytester.makepyfile(test_generation=GENERATION_TEST)
    pytester.makeconftest("pytest_plugins = ['emotion_hypotheses.plugin']\n" + (ROOT / "tests_hypotheses" / "conftest.py").read_text())
    result = pytester.runpytest_subprocess(
        str(tests), "-n", "2", "--model", "tiny", "--samples", "2", "--duration", "0.2", "--batch-size", "2",
        "--cache-dir", str(pytester.path / "store"), "--reports-dir", str(pytester.path / "reports"),
        "-p", "no:cacheprovider",
    )
    result.assert_outcomes(passed=4)

    log = [json.loads(line) for line in (pytester.path / "store" / "generation.log").read_text().splitlines()]
    per_key = Counter(record["key"] for record in log)
    assert len(per_key) == 8
    assert set(per_key.values()) == {1}

    # A second run reads everything from the store and generates nothing.
    again = pytester.runpytest_subprocess(
        str(tests), "--model", "tiny", "--samples", "2", "--duration", "0.2",
        "--cache-dir", str(pytester.path / "store"), "--reports-dir", str(pytester.path / "reports"),
        "-p", "no:cacheprovider",
    )
    again.assert_outcomes(passed=4)
    assert len((pytester.path / "store" / "generation.log").read_text().splitlines()) == 8


def test_refresh_regenerates_once_per_run(pytester):
    tests = pytester.makepyfile(test_generation=GENERATION_TEST)
    pytester.makeconftest("pytest_plugins = ['emotion_hypotheses.plugin']\n" + (ROOT / "tests_hypotheses" / "conftest.py").read_text())
    common = [str(tests), "--model", "tiny", "--samples", "2", "--duration", "0.2",
              "--cache-dir", str(pytester.path / "store"), "--reports-dir", str(pytester.path / "reports"),
              "-p", "no:cacheprovider"]
    pytester.runpytest_subprocess(*common).assert_outcomes(passed=4)
    pytester.runpytest_subprocess(*common, "--refresh", "-n", "2").assert_outcomes(passed=4)

    log = [json.loads(line) for line in (pytester.path / "store" / "generation.log").read_text().splitlines()]
    runs = Counter(record["run_id"] for record in log)
    assert sorted(runs.values()) == [8, 8]


def test_strict_markers_are_registered(pytester):
    pytester.makepyfile(test_marked="import pytest\n\n@pytest.mark.dynamics\ndef test_one():\n    pass\n")
    pytester.makeconftest("pytest_plugins = ['emotion_hypotheses.plugin']\n")
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_help_lists_options_with_defaults(pytester):
    pytester.makeconftest("pytest_plugins = ['emotion_hypotheses.plugin']\n")
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    for option in ("--model", "--revision", "--prompts", "--samples", "--duration", "--seed", "--guidance-scale",
                   "--device", "--dtype", "--cache-dir", "--refresh", "--text-encoder", "--batch-size"):
        assert option in text
    assert "emotion-hypotheses" in text


@pytest.mark.parametrize("option, value, message", [
    ("--samples", "1", "--samples 1 is too few"),
    ("--duration", "0", "--duration 0.0 must be a positive"),
    ("--batch-size", "0", "--batch-size 0 must be at least 1"),
])
def test_invalid_option_values(pytester, option, value, message):
    result = run_suite(pytester, "-m", "text_embedding", "--model", "tiny", option, value)
    assert message in result.stdout.str() + result.stderr.str()
    assert result.ret != 0


def test_bad_prompt_file_reports_clear_error(pytester):
    bad = pytester.path / "bad.toml"
    bad.write_text("[emotions.happy]\nwords = ['happy']\n")
    result = run_suite(pytester, "-m", "text_embedding", "--model", "tiny", "--prompts", str(bad))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert output.count("PromptSetError") == 1
    assert "PromptSetError" in output
    assert "bad.toml" in output
    assert not (pytester.path / "reports" / "verdict.json").exists()


def test_text_level_on_minilm(pytester):
    result = run_suite(pytester, "-m", "text_embedding", "--model", "tiny", "--text-encoder", "minilm")
    assert result.parseoutcomes().get("error", 0) == 0
    verdict = json.loads((pytester.path / "reports" / "verdict.json").read_text())
    assert verdict["run"]["text_encoder"] == "minilm"
    pairs = [entry for entry in verdict["results"] if entry["name"] == "emotion_pairs_in_input"]
    assert pairs[0]["details"]["encoder"] == "minilm"
    assert 0.0 < pairs[0]["measured"] < 1.0
