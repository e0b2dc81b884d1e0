"""Tests for thresholds: the default file, comparisons, explanations and validation errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emotion_hypotheses.errors import ThresholdError
from emotion_hypotheses.thresholds import (
    DEFAULT_THRESHOLDS,
    OPERATORS,
    Threshold,
    load_thresholds,
)

VALID_TOML = """
[text_embedding.happy_sad]
description = "cosine of happy vs sad"
metric = "cosine_similarity"
pair = ["happy", "sad"]
op = "<"
value = 0.8
source = "happy vs sad below 0.8"

[text_embedding.happy_energetic]
description = "cosine of happy vs energetic"
metric = "cosine_similarity"
op = ">"
value = 0.9
source = "happy vs energetic above 0.9"

[decoder.probe]
description = "probe accuracy"
metric = "accuracy"
op = ">="
value = 1
source = "a probe finds emotion"
operationalization = "'finds' is read as accuracy of at least 1"
"""


def write_thresholds(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad_thresholds.toml"
    path.write_text(body, encoding="utf-8")
    return path


def make_threshold(op: str, value: float = 0.8, pair=("happy", "sad"), operationalization=None) -> Threshold:
    return Threshold(
        level="text_embedding",
        name="happy_sad",
        metric="cosine_similarity",
        op=op,
        value=value,
        source="happy vs sad below 0.8",
        description="cosine of happy vs sad",
        pair=pair,
        operationalization=operationalization,
    )


def load_error(path: Path) -> str:
    with pytest.raises(ThresholdError) as caught:
        load_thresholds(path)

    return str(caught.value)


# The default file


def test_default_file_loads():
    thresholds = load_thresholds()

    assert thresholds.path == DEFAULT_THRESHOLDS
    assert "text_embedding" in thresholds.levels


@pytest.mark.parametrize(
    ("name", "metric", "op", "value", "pair", "source"),
    [
        ("happy_sad", "cosine_similarity", "<", 0.8, ("happy", "sad"), "happy vs sad below 0.8"),
        ("happy_energetic", "cosine_similarity", ">", 0.9, ("happy", "energetic"), "happy vs energetic above 0.9"),
        (
            "emotion_pairs_in_input",
            "mean_pairwise_cosine",
            "<",
            0.8,
            None,
            "if the emotion pairs are below 0.8, emotion is in the input",
        ),
    ],
)
def test_default_text_embedding_thresholds(name, metric, op, value, pair, source):
    threshold = load_thresholds().get("text_embedding", name)

    assert threshold.metric == metric
    assert threshold.op == op
    assert threshold.value == value
    assert threshold.pair == pair
    assert threshold.source == source
    assert threshold.description


def test_default_file_sources_quote_values():
    thresholds = load_thresholds()

    for level in thresholds.levels:
        for threshold in thresholds.level(level):
            assert f"{threshold.value:g}" in threshold.source or threshold.operationalization, threshold.key


# Comparisons


@pytest.mark.parametrize(
    ("op", "measured", "expected"),
    [
        ("<", 0.7, True),
        ("<", 0.8, False),
        ("<", 0.9, False),
        ("<=", 0.7, True),
        ("<=", 0.8, True),
        ("<=", 0.9, False),
        (">", 0.7, False),
        (">", 0.8, False),
        (">", 0.9, True),
        (">=", 0.7, False),
        (">=", 0.8, True),
        (">=", 0.9, True),
        ("<", -math.inf, True),
        (">", math.inf, True),
    ],
)
def test_passes_by_op(op, measured, expected):
    assert make_threshold(op).passes(measured) is expected


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_nan_never_passes(op):
    assert make_threshold(op).passes(math.nan) is False


@given(measured=st.floats(allow_nan=False), value=st.floats(allow_nan=False, allow_infinity=False))
def test_strict_and_loose_ops_complement(measured, value):
    assert make_threshold("<", value).passes(measured) is not make_threshold(">=", value).passes(measured)
    assert make_threshold(">", value).passes(measured) is not make_threshold("<=", value).passes(measured)


def test_passes_accepts_integers():
    assert make_threshold(">=", 1.0).passes(1) is True


def test_unknown_op_in_constructor():
    with pytest.raises(ThresholdError) as caught:
        make_threshold("==")

    assert "text_embedding.happy_sad" in str(caught.value)
    assert "'=='" in str(caught.value)


# Explanations


def test_explain_with_pair():
    text = make_threshold("<").explain(0.934)

    assert text == "happy vs sad: measured 0.934, expected < 0.8 (note: 'happy vs sad below 0.8')"


def test_explain_without_pair():
    text = make_threshold(">", 0.9, pair=None).explain(0.5)

    assert text.startswith("text_embedding.happy_sad: measured 0.5, expected > 0.9")


def test_explain_operationalization():
    text = make_threshold("<", operationalization="mean over six pairs").explain(0.5)

    assert text.endswith("(note: 'happy vs sad below 0.8'; operationalization: mean over six pairs)")


def test_explain_near_value_adds_digits():
    text = make_threshold("<").explain(0.79996)

    assert "measured 0.79996," in text


def test_explain_nan():
    assert "measured nan," in make_threshold("<").explain(math.nan)


# Lookups


def test_get_and_level(tmp_path):
    thresholds = load_thresholds(write_thresholds(tmp_path, VALID_TOML))

    assert thresholds.levels == ("text_embedding", "decoder")
    assert [threshold.name for threshold in thresholds.level("text_embedding")] == ["happy_sad", "happy_energetic"]
    assert thresholds.get("decoder", "probe").value == 1.0
    assert isinstance(thresholds.get("decoder", "probe").value, float)
    assert thresholds.get("text_embedding", "happy_energetic").pair is None


def test_get_missing_name(tmp_path):
    thresholds = load_thresholds(write_thresholds(tmp_path, VALID_TOML))

    with pytest.raises(ThresholdError) as caught:
        thresholds.get("text_embedding", "happy_calm")

    message = str(caught.value)
    assert "bad_thresholds.toml" in message
    assert "[text_embedding.happy_calm]" in message
    assert "happy_sad, happy_energetic" in message


def test_get_missing_level(tmp_path):
    thresholds = load_thresholds(write_thresholds(tmp_path, VALID_TOML))

    with pytest.raises(ThresholdError) as caught:
        thresholds.get("encoder", "probe")

    message = str(caught.value)
    assert "bad_thresholds.toml" in message
    assert "[encoder.probe]" in message
    assert "text_embedding, decoder" in message


def test_level_missing(tmp_path):
    thresholds = load_thresholds(write_thresholds(tmp_path, VALID_TOML))

    with pytest.raises(ThresholdError) as caught:
        thresholds.level("encoder")

    message = str(caught.value)
    assert "bad_thresholds.toml" in message
    assert "[encoder]" in message
    assert "text_embedding, decoder" in message


# Validation errors


def test_error_missing_file(tmp_path):
    message = load_error(tmp_path / "absent.toml")

    assert "absent.toml" in message
    assert "not found" in message


def test_error_malformed_toml(tmp_path):
    body = VALID_TOML + "\n[decoder.broken\n"
    broken_line = body.split("\n").index("[decoder.broken") + 1

    message = load_error(write_thresholds(tmp_path, body))

    assert "bad_thresholds.toml" in message
    assert "malformed TOML" in message
    assert re.search(rf"line {broken_line}, column \d+", message), message


def test_error_empty_file(tmp_path):
    message = load_error(write_thresholds(tmp_path, "# nothing\n"))

    assert "bad_thresholds.toml" in message
    assert "defines no thresholds" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('op = "<"', 'op = "=="', ["[text_embedding.happy_sad]", "unknown op '=='", "<, <=, >, >="]),
        ("value = 0.8", 'value = "high"', ["[text_embedding.happy_sad]", "value must be a number", "'high'"]),
        ("value = 0.8", "value = true", ["value must be a number", "True"]),
        ("value = 0.8", "value = nan", ["finite number", "nan"]),
        ("value = 0.8", "value = inf", ["finite number", "inf"]),
        ('source = "happy vs sad below 0.8"\n', "", ["[text_embedding.happy_sad]", "missing required key 'source'"]),
        ('source = "happy vs sad below 0.8"', 'source = " "', ["source must be a non-empty string", "' '"]),
        ('metric = "cosine_similarity"\npair', "metric = 3\npair", ["metric must be a non-empty string", "3"]),
        ('op = "<"', 'op = "<"\nthreshold = 1', ["unknown key 'threshold'"]),
        ('op = "<"', 'op = "<"\nsorce = "x"', ["unknown key 'sorce'", "Did you mean 'source'"]),
        ('pair = ["happy", "sad"]', 'pair = ["happy"]', ["pair must list two different emotion names", "['happy']"]),
        ('pair = ["happy", "sad"]', 'pair = ["sad", "sad"]', ["pair must list two", "['sad', 'sad']"]),
        ('pair = ["happy", "sad"]', 'pair = "happy"', ["pair must list two", "'happy'"]),
    ],
    ids=[
        "unknown-op",
        "value-string",
        "value-bool",
        "value-nan",
        "value-inf",
        "missing-source",
        "blank-source",
        "metric-int",
        "unknown-key",
        "misspelled-key",
        "pair-short",
        "pair-same",
        "pair-string",
    ],
)
def test_error_invalid_threshold(tmp_path, old, new, expected):
    assert old in VALID_TOML
    body = VALID_TOML.replace(old, new, 1)

    message = load_error(write_thresholds(tmp_path, body))

    assert "bad_thresholds.toml" in message
    for fragment in expected:
        assert fragment in message


def test_error_operationalization_not_string(tmp_path):
    old = "operationalization = \"'finds' is read as accuracy of at least 1\""
    assert old in VALID_TOML
    body = VALID_TOML.replace(old, "operationalization = 5")

    message = load_error(write_thresholds(tmp_path, body))

    assert "[decoder.probe]" in message
    assert "operationalization must be a non-empty string" in message


def test_error_level_not_table(tmp_path):
    body = "text_embedding = 0.8\n" + VALID_TOML.replace("[text_embedding.", "[other.")

    message = load_error(write_thresholds(tmp_path, body))

    assert "bad_thresholds.toml" in message
    assert "'text_embedding'" in message
    assert "0.8" in message


def test_error_threshold_not_table(tmp_path):
    message = load_error(write_thresholds(tmp_path, "[text_embedding]\nhappy_sad = 0.8\n"))

    assert "bad_thresholds.toml" in message
    assert "[text_embedding.happy_sad]" in message
    assert "must be a table" in message


def test_error_empty_level(tmp_path):
    body = "[text_embedding]\n" + VALID_TOML.replace("[text_embedding.", "[other.")

    message = load_error(write_thresholds(tmp_path, body))

    assert "bad_thresholds.toml" in message
    assert "level [text_embedding] has no thresholds" in message
