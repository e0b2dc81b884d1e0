"""Command-line options of the verdict suite and the settings object built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

DEFAULT_MODEL = "facebook/musicgen-small"


def add_options(parser: pytest.Parser) -> None:
    """Register every option in the ``emotion-hypotheses`` group."""
    group = parser.getgroup("emotion-hypotheses", "emotion-hypotheses: where MusicGen encodes emotion")
    group.addoption("--model", default=DEFAULT_MODEL,
                    help="MusicGen to test: a Hugging Face id (facebook/musicgen-small, -medium, -large), a local "
                         "checkpoint directory, or a built-in random model: tiny, small-random, planted-null, "
                         f"planted-text-only, planted-all (default: {DEFAULT_MODEL})")
    group.addoption("--revision", default=None,
                    help="Hugging Face revision (branch, tag or commit) of --model (default: the hub's main)")
    group.addoption("--prompts", default="default",
                    help="prompt set: a TOML file, or a name in fixtures/prompts/ (default: default)")
    group.addoption("--thresholds", default=None,
                    help="thresholds TOML file (default: fixtures/thresholds.toml)")
    group.addoption("--samples", type=int, default=20,
                    help="samples to generate per emotion (default: 20)")
    group.addoption("--duration", type=float, default=5.0,
                    help="seconds of audio per sample (default: 5.0; 50 frames per second for musicgen)")
    group.addoption("--seed", type=int, default=0,
                    help="base seed; sample i of an emotion uses a seed derived from it (default: 0)")
    group.addoption("--guidance-scale", type=float, default=3.0,
                    help="classifier-free guidance scale; 1 turns guidance off (default: 3.0)")
    group.addoption("--top-k", type=int, default=250,
                    help="top-k sampling cut-off, as in MusicGen's generation config (default: 250)")
    group.addoption("--device", default="cpu",
                    help="torch device: cpu, cuda, cuda:1 or auto (default: cpu)")
    group.addoption("--dtype", default="float32", choices=("float32", "float16", "bfloat16"),
                    help="model dtype (default: float32)")
    group.addoption("--batch-size", type=int, default=4,
                    help="prompts generated per generate() call (default: 4)")
    group.addoption("--layers", default=None,
                    help="decoder layers to capture, comma-separated (default: all layers)")
    group.addoption("--step-stride", type=int, default=1,
                    help="keep every n-th generation step of the residual stream and attention (default: 1)")
    group.addoption("--cache-dir", default=None,
                    help="run store directory (default: .eh-cache in the project root)")
    group.addoption("--refresh", action="store_true", default=False,
                    help="regenerate every sample of this run even when the store has it (default: off)")
    group.addoption("--text-encoder", default=None,
                    help="run the text_embedding level on another Hugging Face encoder: a directory, an id, or "
                         "minilm for the packaged all-MiniLM-L6-v2 (default: MusicGen's own T5 encoder)")
    group.addoption("--permutations", type=int, default=200,
                    help="permutations per rigorous test (default: 200)")
    group.addoption("--alpha", type=float, default=0.05,
                    help="significance level of the rigorous tests (default: 0.05)")
    group.addoption("--correction", default="holm", choices=("holm", "bh"),
                    help="multiple-comparison correction across the run: holm or bh (default: holm)")
    group.addoption("--reports-dir", default=None,
                    help="where verdict.json, verdict.md and figures go (default: reports/ in the project root)")


@dataclass(frozen=True)
class Settings:
    """The option values that define one verdict run."""

    model: str
    revision: str | None
    prompts: str
    thresholds: str | None
    samples: int
    duration: float
    seed: int
    guidance_scale: float
    top_k: int
    device: str
    dtype: str
    batch_size: int
    layers: tuple[int, ...] | None
    step_stride: int
    cache_dir: Path
    refresh: bool
    text_encoder: str | None
    permutations: int
    alpha: float
    correction: str
    reports_dir: Path

    def to_dict(self) -> dict:
        values = asdict(self)
        values["cache_dir"] = str(self.cache_dir)
        values["reports_dir"] = str(self.reports_dir)
        values["layers"] = list(self.layers) if self.layers is not None else None
        return values


def read_settings(config: pytest.Config) -> Settings:
    """Build Settings from the command line, rejecting values no run can use."""
    root = Path(str(config.rootpath))
    samples = config.getoption("--samples")
    if samples < 2:
        raise pytest.UsageError(f"--samples {samples} is too few: within-emotion comparisons need at least 2 per emotion")
    duration = config.getoption("--duration")
    if not duration > 0:
        raise pytest.UsageError(f"--duration {duration} must be a positive number of seconds")
    batch_size = config.getoption("--batch-size")
    if batch_size < 1:
        raise pytest.UsageError(f"--batch-size {batch_size} must be at least 1")
    guidance = config.getoption("--guidance-scale")
    if guidance < 1:
        raise pytest.UsageError(f"--guidance-scale {guidance} must be >= 1 (1 turns guidance off)")
    stride = config.getoption("--step-stride")
    if stride < 1:
        raise pytest.UsageError(f"--step-stride {stride} must be at least 1")

    layers = config.getoption("--layers")
    if layers:
        try:
            layers = tuple(sorted({int(part) for part in layers.split(",") if part.strip()}))
        except ValueError:
            raise pytest.UsageError(f"--layers {layers!r} must be comma-separated layer indices, e.g. 0,6,12,23") from None

    cache_dir = config.getoption("--cache-dir")
    reports_dir = config.getoption("--reports-dir")
    return Settings(
        model=config.getoption("--model"),
        revision=config.getoption("--revision"),
        prompts=config.getoption("--prompts"),
        thresholds=config.getoption("--thresholds"),
        samples=samples,
        duration=duration,
        seed=config.getoption("--seed"),
        guidance_scale=guidance,
        top_k=config.getoption("--top-k"),
        device=config.getoption("--device"),
        dtype=config.getoption("--dtype"),
        batch_size=batch_size,
        layers=layers or None,
        step_stride=stride,
        cache_dir=Path(cache_dir).expanduser() if cache_dir else root / ".eh-cache",
        refresh=config.getoption("--refresh"),
        text_encoder=config.getoption("--text-encoder"),
        permutations=config.getoption("--permutations"),
        alpha=config.getoption("--alpha"),
        correction=config.getoption("--correction"),
        reports_dir=Path(reports_dir).expanduser() if reports_dir else root / "reports",
    )
