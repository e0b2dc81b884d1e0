"""Load MusicGen for capture: by Hugging Face id, from a local directory, or built in code.

Hugging Face ids (``facebook/musicgen-small``, ``-medium``, ``-large``) load with
``MusicgenForConditionalGeneration.from_pretrained`` at a given revision; offline mode
(``HF_HUB_OFFLINE=1`` or ``offline=True``) reads only the local cache. Built-in names
(``tiny``, ``small-random`` and the planted variants) are constructed in code with random
weights, and every loaded model records where its weights came from.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError, UnsupportedModelError
from . import builtin

logger = logging.getLogger("emotion_hypotheses.models")

BUILTIN_MODELS = tuple(builtin.BUILTIN_SPECS) + builtin.PLANTED_NAMES

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class LoadedModel:
    """A MusicGen ready for generation, with what identifies its weights."""

    model: Any
    tokenizer: Any
    name: str
    revision: str | None
    weights_origin: str
    weights_id: str
    device: torch.device
    dtype: torch.dtype
    extra: dict = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return self.weights_origin == "random"

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> int:
        return int(self.model.config.audio_encoder.frame_rate)

    @property
    def num_codebooks(self) -> int:
        return int(self.model.decoder.config.num_codebooks)

    @property
    def vocab_size(self) -> int:
        return int(self.model.decoder.config.vocab_size)

    @property
    def pad_token_id(self) -> int:
        return int(self.model.generation_config.pad_token_id)

    @property
    def num_layers(self) -> int:
        return int(self.model.decoder.config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        return int(self.model.decoder.config.num_attention_heads)

    def identity(self) -> dict:
        """Return the fields that identify these weights in cache keys and reports."""
        return {
            "model": self.name,
            "revision": self.revision,
            "weights_origin": self.weights_origin,
            "weights_id": self.weights_id,
        }


def is_builtin(name: str) -> bool:
    """Return whether ``name`` is a model constructed in code."""
    return builtin.is_builtin_name(name)


def resolve_dtype(name: str) -> torch.dtype:
    """Map a dtype option value to a torch dtype, or raise naming the allowed values."""
    if name not in DTYPES:
        raise ModelLoadError(f"invalid dtype {name!r}: use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def resolve_device(name: str) -> torch.device:
    """Map a device option value to a torch device, checking that CUDA exists when asked for."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {name!r} was requested but torch {torch.__version__} sees no CUDA GPU: "
            "use --device cpu, or install a CUDA build of torch on a GPU machine"
        )
    return device


def hash_state_dict(module: torch.nn.Module) -> str:
    """Return a sha256 over every parameter and buffer, in name order, for built-in weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def builtin_recipe_id(name: str) -> str:
    """Return a hash of everything that determines a built-in model's weights, without building it.

    The recipe is the model name, the source of the modules that construct built-in models, the
    bundled prompt sets (the tiny vocabulary and the planted emotion words), and the torch and
    transformers versions, whose initialisers draw the random weights.
    """
    import transformers

    from . import planted

    digest = hashlib.sha256(name.encode())
    for path in [Path(builtin.__file__), Path(planted.__file__), *sorted(builtin.FIXTURES_PROMPTS.glob("*.toml"))]:
        digest.update(path.read_bytes())
    digest.update(f"torch {torch.__version__} transformers {transformers.__version__}".encode())
    return "recipe-" + digest.hexdigest()[:16]


def local_checkpoint_id(directory: Path) -> str:
    """Return a hash of a local checkpoint's config and the names, sizes and times of its weight files."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.name == "config.json":
            digest.update(path.read_bytes())
        elif path.suffix in (".safetensors", ".bin", ".json"):
            status = path.stat()
            digest.update(f"{path.name} {status.st_size} {status.st_mtime_ns}".encode())
    return "local-" + digest.hexdigest()[:16]


def model_identity(name: str, revision: str | None = None, offline: bool | None = None) -> dict:
    """Return the fields that identify a model's weights, reading at most its config, never its weights.

    Cache keys use this, so a run whose samples are all stored does not build or load the model.
    """
    if is_builtin(name):
        return {"model": name, "revision": None, "weights_origin": "random", "weights_id": builtin_recipe_id(name)}

    local = Path(name).expanduser()
    if local.is_dir():
        return {"model": name, "revision": revision, "weights_origin": "pretrained", "weights_id": local_checkpoint_id(local)}

    from transformers import AutoConfig

    offline = offline_mode(offline)
    try:
        config = AutoConfig.from_pretrained(name, revision=revision, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise missing_weights_error(name, revision, offline, error) from error
    commit = getattr(config, "_commit_hash", None) or revision or "main"
    return {"model": name, "revision": revision, "weights_origin": "pretrained", "weights_id": str(commit)}


def offline_mode(offline: bool | None) -> bool:
    """Return whether only local files may be read: the argument, else HF_HUB_OFFLINE."""
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def missing_weights_error(name: str, revision: str | None, offline: bool, cause: Exception) -> ModelLoadError:
    """Build the error for MusicGen weights that are neither cached nor downloadable."""
    where = "offline mode (HF_HUB_OFFLINE=1)" if offline else "a failed download"
    at_revision = f" at revision {revision!r}" if revision else ""
    return ModelLoadError(
        f"MusicGen weights {name!r}{at_revision} are not in the local Hugging Face cache and {where} "
        f"prevented fetching them ({type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}). "
        f"Fix: on a machine with hub access run `huggingface-cli download {name}"
        f"{' --revision ' + revision if revision else ''}` and copy the cache (HF_HOME) here, "
        "or pass a local directory with --model /path/to/checkpoint. "
        f"To check the pipeline without real weights use --model tiny or --model small-random."
    )


def check_supported(config: Any, name: str) -> None:
    """Raise for checkpoints the capture does not support yet: stereo and melody."""
    model_type = getattr(config, "model_type", "")
    if model_type == "musicgen_melody":
        raise UnsupportedModelError(
            f"{name!r} is a MusicGen melody checkpoint: it conditions on text and a chroma prefix, not "
            "on cross-attention alone, and the capture does not support it yet. Use a text-only "
            "checkpoint such as facebook/musicgen-small."
        )
    decoder = getattr(config, "decoder", None)
    if decoder is not None and getattr(decoder, "audio_channels", 1) == 2:
        raise UnsupportedModelError(
            f"{name!r} is a stereo checkpoint (8 codebooks interleaved left/right with delays "
            "[0,0,1,1,2,2,3,3]); the capture supports mono checkpoints only for now. "
            "Use a mono checkpoint such as facebook/musicgen-small."
        )


def load_builtin(name: str) -> tuple[Any, Any, str]:
    """Construct a built-in model and return (model, tokenizer, weights hash)."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, tokenizer = builtin.build_by_name(name)
    finally:
        hf_logging.set_verbosity(previous)
    return model, tokenizer, hash_state_dict(model)


def load_pretrained(name: str, revision: str | None, offline: bool, attn_implementation: str | None):
    """Load a MusicGen checkpoint and its tokenizer from the hub cache or a local directory."""
    from transformers import AutoConfig, AutoTokenizer, MusicgenForConditionalGeneration

    local = Path(name).expanduser()
    source = str(local) if local.is_dir() else name
    if not local.is_dir() and (name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1)):
        raise ModelLoadError(f"model directory {name!r} does not exist: check the path passed to --model")

    options: dict[str, Any] = {"revision": revision, "local_files_only": offline}
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        raise missing_weights_error(name, revision, offline, error) from error
    check_supported(config, name)

    try:
        model = MusicgenForConditionalGeneration.from_pretrained(
            source, attn_implementation=attn_implementation, **options
        )
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
    except OSError as error:
        raise missing_weights_error(name, revision, offline, error) from error

    weights_id = getattr(model.config, "_commit_hash", None) or revision or "local"
    return model, tokenizer, str(weights_id)


def load_musicgen(
    name: str,
    *,
    revision: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    offline: bool | None = None,
    attn_implementation: str | None = None,
) -> LoadedModel:
    """Load MusicGen by built-in name, Hugging Face id or local directory, ready for generation.

    ``attn_implementation`` ("eager" or "sdpa") is passed to transformers; capture recomputes
    cross-attention weights itself, so the default SDPA is fine.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)

    if is_builtin(name):
        if revision:
            raise ModelLoadError(f"--revision {revision!r} does not apply to the built-in model {name!r}")
        model, tokenizer, weights_id = load_builtin(name)
        if attn_implementation:
            model.set_attn_implementation(attn_implementation)
        origin = "random"
    else:
        model, tokenizer, weights_id = load_pretrained(name, revision, offline_mode(offline), attn_implementation)
        origin = "pretrained"

    model = model.to(device=torch_device, dtype=torch_dtype).eval()
    logger.info("loaded %s (%s weights, %s) on %s as %s", name, origin, weights_id, torch_device, dtype)
    return LoadedModel(
        model=model, tokenizer=tokenizer, name=name, revision=revision, weights_origin=origin,
        weights_id=weights_id, device=torch_device, dtype=torch_dtype,
    )
