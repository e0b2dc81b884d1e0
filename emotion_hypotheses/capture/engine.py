"""Generate a batch of MusicGen samples and record every capture point through hooks.

``capture_batch`` runs ``MusicgenForConditionalGeneration.generate`` once for a batch of
(prompt, seed) requests and returns one ``SampleCapture`` per request. Nothing relies on
generate's output flags, because transformers 5.x returns tuples of None for hidden states and
attentions, and only the waveform. Forward hooks record the text encoder output, the decoder
residual stream and the cross-attention inputs. Cross-attention weights are recomputed from
the module's own query and key projections, because SDPA returns none. A stopping criterion
that never stops reads the generated codes. The hooks only read tensors, so generation is unchanged,
and they are removed even when generation raises.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import soundfile
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from .. import __version__
from ..models.loading import LoadedModel
from . import names
from .codes import dedelay, frame_count, steps_for_frames
from .hooks import HookSet
from .sampler import SeededSampler

HALVES = ("conditional", "both")


@dataclass(frozen=True)
class GenerationParams:
    """Generation settings that change what MusicGen produces."""

    duration: float = 5.0
    guidance_scale: float = 3.0
    top_k: int | None = 250
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.duration > 0:
            raise ValueError(f"duration must be positive seconds, got {self.duration}")
        if self.guidance_scale < 1:
            raise ValueError(f"guidance scale must be >= 1 (1 turns guidance off), got {self.guidance_scale}")

    def frames(self, frame_rate: int) -> int:
        """Return the number of audio frames for ``duration`` seconds (at least one)."""
        return max(1, round(self.duration * frame_rate))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CaptureSpec:
    """Capture selection: decoder layers (None for all), CFG halves, and the step stride."""

    layers: tuple[int, ...] | None = None
    halves: str = "conditional"
    step_stride: int = 1

    def __post_init__(self) -> None:
        if self.halves not in HALVES:
            raise ValueError(f"halves must be one of {HALVES}, got {self.halves!r}")
        if self.step_stride < 1:
            raise ValueError(f"step stride must be >= 1, got {self.step_stride}")

    def to_dict(self) -> dict:
        return {"layers": list(self.layers) if self.layers is not None else None,
                "halves": self.halves, "step_stride": self.step_stride,
                "format": "capture-v1"}


@dataclass(frozen=True)
class CaptureRequest:
    """One sample to generate: the prompt text, its seed, and the emotion-word character spans."""

    text: str
    seed: int
    emotion_word_spans: tuple[tuple[int, int], ...] = ()


@dataclass
class SampleCapture:
    """Everything recorded for one sample: arrays by capture name, metadata and files."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


class CodesRecorder(StoppingCriteria):
    """A stopping criterion that never stops and keeps the latest generated ids."""

    def __init__(self) -> None:
        self.input_ids: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        self.input_ids = input_ids
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class Recorder:
    """Hook callbacks that record one generation's capture points for the kept rows."""

    def __init__(self, loaded: LoadedModel, batch: int, spec: CaptureSpec, guided: bool, text_mask: torch.Tensor):
        self.batch = batch
        self.guided = guided
        recorded_rows = batch * 2 if (guided and spec.halves == "both") else batch
        self.rows = slice(0, recorded_rows)
        decoder_layers = loaded.model.decoder.model.decoder.layers
        self.layers = list(range(len(decoder_layers))) if spec.layers is None else list(spec.layers)
        self.heads = loaded.num_heads

        # The additive cross-attention mask as transformers builds it: the null rows of
        # classifier-free guidance are all masked, which the softmax turns into uniform weights.
        full_mask = torch.cat([text_mask, torch.zeros_like(text_mask)]) if guided else text_mask
        self.additive_mask = torch.zeros(full_mask.shape, dtype=torch.float32, device=text_mask.device)
        self.additive_mask.masked_fill_(full_mask[:, :] == 0, torch.finfo(torch.float32).min)

        self.text_hidden: torch.Tensor | None = None
        self.decoder_context: torch.Tensor | None = None
        self.resid = {layer: [] for layer in self.layers}
        self.attention = {layer: [] for layer in self.layers}
        self.queries: dict[int, torch.Tensor] = {}
        self.keys: dict[int, torch.Tensor] = {}

    def install(self, hooks: HookSet, loaded: LoadedModel) -> None:
        """Register every hook on ``loaded.model``."""
        model = loaded.model
        hooks.forward(model.text_encoder, self.on_text_encoder)
        hooks.forward_pre(model.decoder.model.decoder, self.on_decoder_input, with_kwargs=True)
        layers = model.decoder.model.decoder.layers
        for index in self.layers:
            layer = layers[index]
            hooks.forward(layer, self.resid_hook(index))
            hooks.forward(layer.encoder_attn.q_proj, self.query_hook(index))
            hooks.forward(layer.encoder_attn.k_proj, self.key_hook(index))
            hooks.forward(layer.encoder_attn, self.attention_hook(index, layer.encoder_attn.scaling))

    def on_text_encoder(self, module, args, output) -> None:
        self.text_hidden = output.last_hidden_state.detach()

    def on_decoder_input(self, module, args, kwargs) -> None:
        if self.decoder_context is None:
            context = kwargs.get("encoder_hidden_states")
            if context is None and len(args) > 2:
                context = args[2]
            self.decoder_context = context.detach() if context is not None else None

    def resid_hook(self, index: int) -> Callable:
        def hook(module, args, output) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            self.resid[index].append(hidden[self.rows].detach())
        return hook

    def query_hook(self, index: int) -> Callable:
        def hook(module, args, output) -> None:
            self.queries[index] = output[self.rows].detach()
        return hook

    def key_hook(self, index: int) -> Callable:
        def hook(module, args, output) -> None:
            self.keys[index] = output[self.rows].detach()
        return hook

    def attention_hook(self, index: int, scaling: float) -> Callable:
        def hook(module, args, output) -> None:
            query, key = self.queries[index], self.keys[index]
            rows, steps, width = query.shape
            head_dim = width // self.heads
            query = query.float().view(rows, steps, self.heads, head_dim).transpose(1, 2)
            key = key.float().view(rows, key.shape[1], self.heads, head_dim).transpose(1, 2)
            scores = torch.matmul(query, key.transpose(2, 3)) * scaling
            scores = scores + self.additive_mask[self.rows, None, None, :]
            self.attention[index].append(torch.softmax(scores, dim=-1))
        return hook


def capture_batch(
    loaded: LoadedModel,
    requests: Sequence[CaptureRequest],
    params: GenerationParams,
    spec: CaptureSpec = CaptureSpec(),
) -> list[SampleCapture]:
    """Generate ``requests`` as one batch and return one capture per request, in order."""
    if isinstance(requests, (str, CaptureRequest)):
        raise TypeError("capture_batch takes a sequence of CaptureRequest; wrap a single request in a list")
    if not requests:
        return []
    model, tokenizer = loaded.model, loaded.tokenizer
    batch = len(requests)
    num_codebooks = loaded.num_codebooks
    frames = params.frames(loaded.frame_rate)
    steps = steps_for_frames(frames, num_codebooks)
    guided = params.guidance_scale > 1

    texts = [request.text for request in requests]
    encoded = tokenizer(texts, padding=True, return_tensors="pt", return_offsets_mapping=True)
    offsets = encoded.pop("offset_mapping").numpy()
    input_ids = encoded["input_ids"].to(loaded.device)
    text_mask = encoded["attention_mask"].to(loaded.device)

    sampler = SeededSampler(
        [request.seed for request in requests], num_codebooks, guidance_scale=params.guidance_scale,
        top_k=params.top_k, temperature=params.temperature, device=loaded.device,
    )
    codes = CodesRecorder()
    recorder = Recorder(loaded, batch, spec, guided, text_mask)
    generation_config = greedy_config(model.generation_config, params, steps)

    started = time.perf_counter()
    with HookSet() as hooks, torch.inference_mode(), quiet_generation_config_warnings():
        recorder.install(hooks, loaded)
        waveforms = model.generate(
            input_ids=input_ids, attention_mask=text_mask, generation_config=generation_config,
            logits_processor=[sampler], stopping_criteria=StoppingCriteriaList([codes]),
        )
    seconds = time.perf_counter() - started

    step_grid = read_step_grid(loaded, codes, sampler, batch, steps)
    return [
        assemble_sample(loaded, requests[i], i, recorder, step_grid[i], waveforms[i], encoded, offsets[i],
                        params, spec, steps, seconds / batch, batch)
        for i in range(batch)
    ]


def capture_texts(
    loaded: LoadedModel,
    texts: str | Sequence[str],
    seeds: int | Sequence[int] = 0,
    params: GenerationParams = GenerationParams(),
    spec: CaptureSpec = CaptureSpec(),
) -> list[SampleCapture]:
    """Capture plain prompt texts; a single string is one prompt, never one prompt per character."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if isinstance(seeds, int):
        seeds = [seeds + index for index in range(len(texts))]
    if len(seeds) != len(texts):
        raise ValueError(f"got {len(texts)} prompts but {len(seeds)} seeds: pass one seed per prompt")
    return capture_batch(loaded, [CaptureRequest(text, seed) for text, seed in zip(texts, seeds)], params, spec)


@contextlib.contextmanager
def quiet_generation_config_warnings():
    """Silence transformers' warning that top_k is ignored in greedy decoding.

    generate() fills unset fields from the model's generation config (top_k=250 in MusicGen's),
    and then warns on every call that greedy decoding ignores it. The seeded sampler applies
    top_k itself, so the warning is noise.
    """
    generation_logger = logging.getLogger("transformers.generation.configuration_utils")
    previous = generation_logger.level
    generation_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        generation_logger.setLevel(previous)


def greedy_config(base, params: GenerationParams, steps: int):
    """Return a copy of ``base`` that decodes greedily over the sampler's one-hot scores."""
    config = copy.deepcopy(base)
    config.do_sample = False
    config.top_k = None
    config.top_p = None
    config.temperature = None
    config.guidance_scale = params.guidance_scale if params.guidance_scale > 1 else None
    config.max_length = steps + 1
    config.max_new_tokens = steps
    config.min_new_tokens = steps
    config.return_dict_in_generate = False
    config.output_hidden_states = False
    config.output_attentions = False
    return config


def read_step_grid(loaded: LoadedModel, codes: CodesRecorder, sampler: SeededSampler, batch: int, steps: int) -> np.ndarray:
    """Return the (batch, K, steps) step grid, checking that generation kept every drawn token."""
    if codes.input_ids is None:
        raise RuntimeError("generation produced no codes: the stopping criterion was never called")
    raw = codes.input_ids
    drawn = torch.stack(sampler.chosen, dim=1)
    if raw.shape[1] != steps + 1 or not torch.equal(raw[:, 1:], drawn):
        raise RuntimeError(
            "the generated codes differ from the tokens the seeded sampler drew: this transformers "
            "version applies logits processors in an order the capture does not support"
        )
    start = raw[:, :1]
    _, pattern = loaded.model.decoder.build_delay_pattern_mask(start, loaded.pad_token_id, max_length=steps + 1)
    grid = loaded.model.decoder.apply_delay_pattern_mask(raw, pattern)[:, 1:]
    return grid.reshape(batch, loaded.num_codebooks, steps).cpu().numpy()


def emotion_word_mask(offsets: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Return a (T,) bool mask of tokens whose character span overlaps any emotion-word span."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    mask = np.zeros(len(offsets), dtype=bool)
    for span_start, span_end in spans:
        mask |= (starts < span_end) & (ends > span_start) & (ends > starts)
    return mask


def assemble_sample(
    loaded: LoadedModel, request: CaptureRequest, row: int, recorder: Recorder, step_grid: np.ndarray,
    waveform: torch.Tensor, encoded, offsets: np.ndarray, params: GenerationParams, spec: CaptureSpec,
    steps: int, seconds: float, batch: int,
) -> SampleCapture:
    """Cut one sample's rows out of the batch recording and trim its text padding."""
    real = encoded["attention_mask"][row].numpy().astype(bool)
    stride = spec.step_stride
    arrays: dict[str, np.ndarray] = {
        names.TEXT_TOKEN_IDS: encoded["input_ids"][row].numpy()[real],
        names.TEXT_ATTENTION_MASK: np.ones(int(real.sum()), dtype=np.int8),
        names.TEXT_ENCODER_HIDDEN: to_numpy(recorder.text_hidden[row])[real],
        names.TEXT_EMOTION_WORD_MASK: emotion_word_mask(offsets, request.emotion_word_spans)[real],
        names.CODES_STEPS: step_grid,
        names.CODES_FRAMES: dedelay(step_grid),
        names.AUDIO_WAVEFORM: to_numpy(waveform[0]).astype(np.float32),
    }
    if recorder.decoder_context is not None:
        arrays[names.TEXT_DECODER_CONTEXT] = to_numpy(recorder.decoder_context[row])[real]

    halves = [("", row)]
    if recorder.guided and spec.halves == "both":
        halves.append((names.UNCONDITIONAL_PREFIX, row + recorder.batch))
    for prefix, index in halves:
        if prefix and recorder.decoder_context is not None:
            arrays[prefix + names.TEXT_DECODER_CONTEXT] = to_numpy(recorder.decoder_context[index])[real]
        # transformers 5.x runs the prefill forward twice and discards the first result, so only
        # the last ``steps`` decoder calls are the ones whose logits chose the codes.
        resid = [torch.cat(recorder.resid[layer][-steps:], dim=1)[index] for layer in recorder.layers]
        attention = [torch.cat(recorder.attention[layer][-steps:], dim=2)[index] for layer in recorder.layers]
        arrays[prefix + names.DECODER_RESID_POST] = to_numpy(torch.stack(resid))[:, ::stride]
        arrays[prefix + names.DECODER_CROSS_ATTENTION] = to_numpy(torch.stack(attention))[:, :, ::stride, real]

    audio = arrays[names.AUDIO_WAVEFORM]
    meta = {
        "text": request.text,
        "seed": request.seed,
        "model": loaded.identity(),
        "generation": params.to_dict(),
        "capture": spec.to_dict(),
        "cfg_half": "conditional" if spec.halves == "conditional" or not recorder.guided else "both",
        "layers": recorder.layers,
        "steps": steps,
        "frames": frame_count(steps, loaded.num_codebooks),
        "num_codebooks": loaded.num_codebooks,
        "vocab_size": loaded.vocab_size,
        "pad_token_id": loaded.pad_token_id,
        "sample_rate": loaded.sample_rate,
        "frame_rate": loaded.frame_rate,
        "dtype": str(loaded.dtype).replace("torch.", ""),
        "device": str(loaded.device),
        "batch_size": batch,
        "seconds_per_sample": seconds,
        "audio_clipped_in_wav": bool(np.abs(audio).max(initial=0.0) > 1.0),
        "versions": library_versions(),
    }
    return SampleCapture(arrays=arrays, meta=meta, files={names.AUDIO_FILE: wav_bytes(audio, loaded.sample_rate)})


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Copy a tensor to a float32 (or integer) numpy array on the CPU."""
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.numpy()


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encode a mono waveform as 16-bit PCM WAV bytes, clipping to [-1, 1]."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries that shape a capture."""
    import transformers

    return {
        "emotion_hypotheses": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
