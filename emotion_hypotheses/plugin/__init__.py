"""The pytest plugin of the verdict suite: options, markers, fixtures, xdist support and reports.

Loaded by the project's ``conftest.py``. The ``suite`` fixture contains the lazily loaded models and
captures of a run. The ``verdict`` fixture checks measurements against thresholds and records
them. The process that owns the terminal (the controller under pytest-xdist) gathers every
recorded result and writes one report at the end of the session.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ..errors import EmotionHypothesesError
from ..models import is_builtin
from .options import add_options, read_settings
from .results import RESULT_PROPERTY, HypothesisResult, VerdictRecorder
from .session import SuiteSession

MARKERS = {
    "text_embedding": "level 1: the T5 encoder output for the prompt (the instruction)",
    "transformer_hidden": "level 2: the decoder residual stream, layer by layer (the process)",
    "audio_tokens": "level 3: the generated EnCodec codes (the output)",
    "cross_attention": "level 4: attention from audio steps to the text tokens (the conditioning)",
    "dynamics": "level 5: how activations change over generation steps",
    "compositional": "level 6: structure in factor and PCA space",
    "acoustic": "features of the decoded audio",
    "synthesis": "the verdict that names where emotion is encoded",
    "rigorous": "probes, permutation nulls and controls behind a level's verdict",
}

RUN_ID_KEY = "emotion_hypotheses_run_id"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for marker, description in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {description}")

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and RUN_ID_KEY in workerinput:
        config._eh_run_id = workerinput[RUN_ID_KEY]
    else:
        config._eh_run_id = uuid.uuid4().hex
    config._eh_results = []
    config._eh_outcomes = Counter()
    config._eh_started = now()

    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "emotion_hypotheses_xdist")

    # Bad option values, prompt sets and threshold files stop the run once, with one message,
    # instead of failing every test that uses them.
    settings = read_settings(config)
    if workerinput is None and runs_verdict_suite(config):
        check_inputs(settings)


def runs_verdict_suite(config: pytest.Config) -> bool:
    """Return whether the command line selects the verdict suite (tests_hypotheses or the project root)."""
    root = Path(str(config.rootpath)).resolve()
    suite_dir = root / "tests_hypotheses"
    for argument in config.args:
        path = Path(argument.split("::")[0]).resolve()
        if path == root or path == suite_dir or suite_dir in path.parents:
            return True
    return False


def check_inputs(settings) -> None:
    """Load the prompt set and thresholds, turning their errors into one usage error."""
    from ..prompts import load_prompt_set, resolve_prompt_set
    from ..thresholds import load_thresholds

    try:
        load_prompt_set(resolve_prompt_set(settings.prompts))
        load_thresholds(settings.thresholds)
    except EmotionHypothesesError as error:
        raise pytest.UsageError(f"{type(error).__name__}: {error}") from None


class XdistHooks:
    """Hooks that exist only when pytest-xdist is installed."""

    @pytest.hookimpl
    def pytest_configure_node(self, node) -> None:
        # The controller decides the run id once, so --refresh means the same run on every worker.
        node.workerinput[RUN_ID_KEY] = node.config._eh_run_id


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> SuiteSession:
    """Return the run's lazily loaded prompt set, thresholds, models and captures."""
    return SuiteSession(read_settings(request.config), request.config._eh_run_id)


@pytest.fixture
def verdict(request: pytest.FixtureRequest, suite: SuiteSession) -> VerdictRecorder:
    """Checks measurements against the thresholds file and records each result for the report."""
    return VerdictRecorder(request.node, suite.thresholds)


def collect(config: pytest.Config, report: pytest.TestReport) -> None:
    """Keep the results a finished test recorded, with its outcome."""
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        config._eh_outcomes[report.outcome] += 1
    for name, value in getattr(report, "user_properties", []):
        if name == RESULT_PROPERTY and report.when == "call":
            result = HypothesisResult.from_json(value)
            result.outcome = report.outcome
            config._eh_results.append(result)


class ReportCollector:
    """Receives test reports in the process that writes the verdict."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        collect(self.config, report)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not is_worker(session.config):
        session.config.pluginmanager.register(ReportCollector(session.config), "emotion_hypotheses_collector")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if is_worker(config) or not config._eh_results:
        return
    from ..report import write_report

    settings = read_settings(config)
    run = run_summary(config, settings)
    paths = write_report(settings.reports_dir, run, config._eh_results)
    config._eh_report_paths = paths


def run_summary(config: pytest.Config, settings) -> dict:
    """Describe the run for the report header from settings and what the tests recorded."""
    run = {
        "model": settings.model,
        "revision": settings.revision,
        "weights_origin": "random" if is_builtin(settings.model) else "pretrained",
        "text_encoder": settings.text_encoder or "MusicGen's T5 encoder",
        "prompt_set": settings.prompts,
        "samples_per_emotion": settings.samples,
        "duration": settings.duration,
        "seed": settings.seed,
        "guidance_scale": settings.guidance_scale,
        "device": settings.device,
        "dtype": settings.dtype,
        "started": config._eh_started,
        "finished": now(),
        "tests": dict(config._eh_outcomes),
        "settings": settings.to_dict(),
    }
    for result in config._eh_results:
        for key in ("weights_id", "emotions", "audio_examples"):
            if key in result.details and key not in run:
                run[key] = result.details[key]
    return run


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if is_worker(config) or not getattr(config, "_eh_results", None):
        return
    writer = terminalreporter
    writer.section("emotion-hypotheses verdict")
    if is_builtin(config.getoption("--model")):
        writer.line(f"RANDOM WEIGHTS ({config.getoption('--model')}): this verdict checks the pipeline, not MusicGen.")
    for result in sorted(config._eh_results, key=lambda item: (item.level, item.name)):
        threshold = f"{result.op} {result.threshold}" if result.threshold is not None else ""
        outcome = {True: "PASS", False: "FAIL", None: "n/a"}[result.passed]
        measured = "n/a" if result.measured is None else f"{result.measured:.4g}"
        p_value = "" if result.p_value is None else f" p={result.p_value:.3g}"
        writer.line(f"{outcome:4}  {result.level}.{result.name}: {measured} {threshold}{p_value}")
        if result.level == "synthesis" and "statement" in result.details:
            writer.line(f"      {result.details['statement']}")
    paths = getattr(config, "_eh_report_paths", None)
    if paths:
        writer.line(f"report: {paths['markdown']}")


def pytest_exception_interact(node, call, report) -> None:
    """Show suite errors (bad prompt file, missing weights) as their message, not a stack trace."""
    if call.excinfo is not None and isinstance(call.excinfo.value, EmotionHypothesesError):
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
