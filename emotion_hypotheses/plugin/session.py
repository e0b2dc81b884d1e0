"""The verdict run's shared state: prompt set, models and captures, each loaded on first use.

One ``SuiteSession`` lives per pytest process. ``pytest -m text_embedding`` touches only the
prompt set and the text encoder, so it loads no decoder and generates nothing. Levels that need
generation call ``captures()``. Under pytest-xdist every worker claims missing samples one batch
at a time through store locks, generates them and writes them to the run store. Then it reads
every sample from the store, so each sample is generated once across workers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..capture import names
from ..errors import EmotionHypothesesError
from ..capture.engine import CaptureRequest, CaptureSpec, GenerationParams, capture_batch
from ..models import load_musicgen, load_text_encoder
from ..prompts import PromptSet, Sample, resolve_prompt_set, load_prompt_set
from ..store import RunStore, entry_key
from ..thresholds import Thresholds, load_thresholds
from .options import Settings

logger = logging.getLogger("emotion_hypotheses.session")

GENERATION_LOG = "generation.log"


@dataclass
class CapturedSample:
    """One sample of the plan with its stored capture."""

    sample: Sample
    entry: Any

    @property
    def emotion(self) -> str:
        return self.sample.emotion

    def array(self, name: str) -> np.ndarray:
        """Return the stored array ``name`` as float32 (integers keep their dtype)."""
        array = self.entry.array(name)
        return array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array


def remember_failure(method):
    """Cache a property's value, or the error it raised, so a failed load is not retried by every test.

    Loading a missing hub model retries the network for about a minute; without this, each test
    that needs the model would wait for that again.
    """
    name = f"_remembered_{method.__name__}"

    def wrapper(self):
        if name not in self.__dict__:
            try:
                self.__dict__[name] = (method(self), None)
            except EmotionHypothesesError as error:
                self.__dict__[name] = (None, error)
        value, error = self.__dict__[name]
        if error is not None:
            raise error
        return value

    wrapper.__doc__ = method.__doc__
    return property(wrapper)


class SuiteSession:
    """Lazily loaded prompt set, thresholds, text encoder, MusicGen and captures for one run."""

    def __init__(self, settings: Settings, run_id: str, progress=None) -> None:
        self.settings = settings
        self.run_id = run_id
        self.progress = progress or ProgressLine()
        self._captures: list[CapturedSample] | None = None

    @cached_property
    def prompt_set(self) -> PromptSet:
        return load_prompt_set(resolve_prompt_set(self.settings.prompts))

    @cached_property
    def thresholds(self) -> Thresholds:
        return load_thresholds(self.settings.thresholds)

    @cached_property
    def plan(self) -> list[Sample]:
        return self.prompt_set.sample_plan(self.settings.samples, self.settings.seed)

    @remember_failure
    def text_encoder(self):
        return load_text_encoder(
            self.settings.model, revision=self.settings.revision, text_encoder=self.settings.text_encoder,
            device=self.settings.device,
        )

    @remember_failure
    def musicgen_text_encoder(self):
        """MusicGen's own T5 encoder, regardless of --text-encoder."""
        if not self.settings.text_encoder:
            return self.text_encoder
        return load_text_encoder(self.settings.model, revision=self.settings.revision, device=self.settings.device)

    @remember_failure
    def model(self):
        limit_threads_per_worker()
        return load_musicgen(
            self.settings.model, revision=self.settings.revision, device=self.settings.device,
            dtype=self.settings.dtype,
        )

    @cached_property
    def store(self) -> RunStore:
        return RunStore(self.settings.cache_dir)

    @cached_property
    def generation_params(self) -> GenerationParams:
        return GenerationParams(
            duration=self.settings.duration, guidance_scale=self.settings.guidance_scale, top_k=self.settings.top_k,
        )

    @cached_property
    def capture_spec(self) -> CaptureSpec:
        return CaptureSpec(layers=self.settings.layers, step_stride=self.settings.step_stride)

    @property
    def random_weights(self) -> bool:
        """Whether the MusicGen under test has random weights (built-in models)."""
        from ..models import is_builtin

        return is_builtin(self.settings.model)

    @remember_failure
    def model_identity(self) -> dict:
        """The fields that identify the model's weights, read without building or loading it."""
        from ..models.loading import model_identity

        return model_identity(self.settings.model, self.settings.revision)

    def sample_key(self, sample: Sample) -> str:
        """Return the store key of ``sample``: everything that changes its capture."""
        return entry_key({
            "model": self.model_identity,
            "dtype": self.settings.dtype,
            "prompt": sample.prompt.marked_text,
            "seed": sample.seed,
            "generation": self.generation_params.to_dict(),
            "capture": self.capture_spec.to_dict(),
        })

    def family_fields(self, keys) -> dict:
        """Return what a rigorous family's results depend on, for sharing them between workers."""
        generated = any(level != "text_embedding" for level, _ in keys)
        return {
            "family": sorted(list(key) for key in keys),
            "permutations": self.settings.permutations,
            "correction": self.settings.correction,
            "seed": self.settings.seed,
            "prompts": [sample.prompt.marked_text for sample in self.plan],
            "text_encoder": self.settings.text_encoder or self.model_identity,
            "samples": [self.sample_key(sample) for sample in self.plan] if generated else None,
            "run": self.run_id if self.settings.refresh else None,
        }

    def request(self, sample: Sample) -> CaptureRequest:
        spans = tuple((word.start, word.end) for word in sample.prompt.emotion_words)
        return CaptureRequest(text=sample.prompt.text, seed=sample.seed, emotion_word_spans=spans)

    def usable(self, entry) -> bool:
        """Return whether a stored entry may be read: with --refresh, only entries written by this run."""
        return entry is not None and (not self.settings.refresh or entry.meta.get("run_id") == self.run_id)

    def captures(self) -> list[CapturedSample]:
        """Return every sample of the plan with its capture, generating what the store lacks."""
        if self._captures is None:
            self._captures = self._collect()
        return self._captures

    def _collect(self) -> list[CapturedSample]:
        store = self.store
        keys = [self.sample_key(sample) for sample in self.plan]

        # Claim one batch at a time, so that other workers find unclaimed samples to generate
        # while this one is busy, instead of one worker claiming the whole plan up front.
        pending = list(zip(self.plan, keys))
        started = time.perf_counter()
        generated = 0
        while True:
            claimed, pending = self._claim_batch(pending)
            if not claimed:
                break
            if generated == 0:
                self.progress.start(len(claimed) + len(pending), self.settings.model)
            self._generate(claimed)
            generated += len(claimed)
            self.progress.update(generated, generated + len(pending), time.perf_counter() - started)

        captured = []
        for sample, key in zip(self.plan, keys):
            entry = store.get(key)
            if not self.usable(entry):
                with store.lock(key):
                    entry = store.get(key)
                    if not self.usable(entry):
                        self._generate([(sample, key, None)])
                        entry = store.get(key)
            captured.append(CapturedSample(sample, entry))
        return captured

    def _claim_batch(self, pending: list) -> tuple[list, list]:
        """Lock up to --batch-size samples that no store entry or other worker covers yet."""
        claimed = []
        remaining = []
        for position, (sample, key) in enumerate(pending):
            if len(claimed) == self.settings.batch_size:
                remaining.extend(pending[position:])
                break
            if not self.settings.refresh and self.store.contains(key):
                continue
            lock = self.store.try_lock(key)
            if lock is None:
                continue
            if self.usable(self.store.get(key)):
                lock.release()
                continue
            claimed.append((sample, key, lock))
        return claimed, remaining

    def _generate(self, claimed: list) -> None:
        """Generate the claimed samples as one batch and write each to the store, releasing its lock."""
        try:
            captures = capture_batch(
                self.model, [self.request(sample) for sample, _, _ in claimed],
                self.generation_params, self.capture_spec,
            )
            for (sample, key, lock), capture in zip(claimed, captures):
                self._put(sample, key, capture)
                if lock is not None:
                    lock.release()
        finally:
            for _, _, lock in claimed:
                if lock is not None and lock.is_locked:
                    lock.release()

    def _put(self, sample: Sample, key: str, capture) -> None:
        meta = dict(capture.meta)
        meta.update({
            "run_id": self.run_id,
            "emotion": sample.emotion,
            "template": sample.prompt.template,
            "marked_text": sample.prompt.marked_text,
        })
        # replace=True: this process holds the lock and generated because the entry was unusable.
        self.store.put(key, capture.arrays, meta, capture.files, keep_precision=names.FULL_PRECISION, replace=True)
        self.log_generation(key, sample, capture.meta["seconds_per_sample"])
        logger.info("generated %s seed %d -> %s", sample.prompt.text, sample.seed, key[:12])


    def log_generation(self, key: str, sample: Sample, seconds: float) -> None:
        """Append one JSON line per generated sample to generation.log in the store directory.

        Appends of one short line with O_APPEND do not interleave between processes, so the
        log shows which process generated each sample and when, across pytest-xdist workers.
        """
        record = {
            "key": key, "run_id": self.run_id, "pid": os.getpid(), "emotion": sample.emotion,
            "prompt": sample.prompt.text, "seed": sample.seed, "seconds": round(seconds, 4), "time": time.time(),
        }
        line = (json.dumps(record) + "\n").encode()
        descriptor = os.open(self.settings.cache_dir / GENERATION_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)


def limit_threads_per_worker() -> None:
    """Give each pytest-xdist worker an equal share of the cores for torch, so workers do not oversubscribe."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


class ProgressLine:
    """Generation progress on the real terminal, which pytest's output capture does not hide."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.__stderr__

    def write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()

    @property
    def prefix(self) -> str:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return f"[emotion-hypotheses {worker}]" if worker else "[emotion-hypotheses]"

    def start(self, total: int, model: str) -> None:
        self.write(f"\n{self.prefix} up to {total} samples left to generate with {model}\n")

    def update(self, done: int, total: int, seconds: float) -> None:
        self.write(
            f"{self.prefix} generated {done} samples ({seconds / done:.2f} s per sample); "
            f"up to {total - done} left, shared with other workers\n"
        )

    def finish(self) -> None:
        pass
