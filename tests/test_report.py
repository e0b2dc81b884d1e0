"""The report writer: notice, tables, NaN handling and figures."""

import json
import math

from emotion_hypotheses.plugin.results import HypothesisResult
from emotion_hypotheses.report import write_report


def results():
    return [
        HypothesisResult(level="text_embedding", name="happy_sad", description="happy vs sad", measured=0.95,
                         op="<", threshold=0.8, source="happy vs sad below 0.8", passed=False,
                         figures=[{"name": "heat", "kind": "heatmap", "matrix": [[1, 0.5], [0.5, 1]],
                                   "labels": ["happy", "sad"]}]),
        HypothesisResult(level="text_embedding", name="probe", description="probe", measured=0.9, kind="rigorous",
                         p_value=0.001, passed=True,
                         details={"role": "primary", "chance": 0.25, "ci_95": [0.8, 0.95],
                                  "disagreement": "raw similarity 0.95, yet the probe separates emotions",
                                  "undefined": math.nan}),
        HypothesisResult(level="acoustic", name="tempo", description="tempo", measured=math.nan, passed=None),
    ]


def test_random_weights_notice_first(tmp_path):
    paths = write_report(tmp_path, {"model": "tiny", "weights_origin": "random"}, results())
    markdown = paths["markdown"].read_text()
    assert markdown.index("RANDOM WEIGHTS") < markdown.index("## Verdict table")
    assert "RANDOM WEIGHTS" in json.loads(paths["json"].read_text())["notice"]


def test_pretrained_has_no_notice(tmp_path):
    paths = write_report(tmp_path, {"model": "facebook/musicgen-small", "weights_origin": "pretrained"}, results())
    assert "RANDOM WEIGHTS" not in paths["markdown"].read_text()
    assert json.loads(paths["json"].read_text())["notice"] is None


def test_nan_becomes_null(tmp_path):
    paths = write_report(tmp_path, {"model": "tiny", "weights_origin": "random"}, results())
    document = json.loads(paths["json"].read_text())
    by_name = {entry["name"]: entry for entry in document["results"]}
    assert by_name["tempo"]["measured"] is None
    assert by_name["probe"]["details"]["undefined"] is None
    assert "| acoustic | tempo | raw | n/a |" in paths["markdown"].read_text()


def test_side_by_side_and_figures(tmp_path):
    paths = write_report(tmp_path, {"model": "tiny", "weights_origin": "random"}, results())
    markdown = paths["markdown"].read_text()
    assert "## Raw versus rigorous" in markdown
    assert "| text_embedding | happy_sad FAIL | probe | 0.9 (0.25, 0.8-0.95) | 0.001 | PASS |" in markdown
    assert "raw similarity 0.95, yet the probe separates emotions" in markdown
    assert (tmp_path / "figures" / "heat.png").stat().st_size > 1000
    assert "![text_embedding.happy_sad](figures/heat.png)" in markdown
    assert not list(tmp_path.glob(".*.tmp"))
