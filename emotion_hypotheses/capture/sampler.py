"""Per-sample seeded sampling for MusicGen generation.

transformers samples every row of a batch from one random stream, so a sample's codes would depend
on which other prompts share its batch. ``SeededSampler`` gives each sample its own
``torch.Generator`` and draws its K codebook tokens itself; generation then runs greedily over the
one-hot scores it returns. A (prompt, seed) pair therefore gives the same codes alone or in any batch.

The sampler applies classifier-free guidance, temperature and top-k in the same order and with the
same formulas as transformers' ClassifierFreeGuidanceLogitsProcessor, TemperatureLogitsWarper and
TopKLogitsWarper (transformers 5.x).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class SeededSampler(LogitsProcessor):
    """Sample each (sample, codebook) row with the sample's own generator.

    Scores arrive as (rows, vocab) with rows = batch * K, or 2 * batch * K when the conditional
    and unconditional halves of classifier-free guidance are both present (conditional first).
    """

    def __init__(
        self,
        seeds: list[int],
        num_codebooks: int,
        *,
        guidance_scale: float,
        top_k: int | None,
        temperature: float,
        device: torch.device,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.num_codebooks = num_codebooks
        self.guidance_scale = guidance_scale
        self.top_k = top_k
        self.temperature = temperature
        self.generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        self.chosen: list[torch.Tensor] = []

    @property
    def rows(self) -> int:
        return len(self.generators) * self.num_codebooks

    def guided_logits(self, scores: torch.Tensor) -> torch.Tensor:
        """Return the guided (rows, vocab) logits, combining the two halves when both are present."""
        if scores.shape[0] == 2 * self.rows:
            conditional, unconditional = scores.split(self.rows, dim=0)
            return unconditional + (conditional - unconditional) * self.guidance_scale
        if scores.shape[0] == self.rows:
            return scores
        raise RuntimeError(
            f"SeededSampler expected {self.rows} or {2 * self.rows} score rows, got {scores.shape[0]}"
        )

    def draw(self, logits: torch.Tensor) -> torch.Tensor:
        """Draw one token per row from the warped distribution, each sample with its own generator."""
        logits = logits.float() / self.temperature
        if self.top_k is not None and 0 < self.top_k < logits.shape[-1]:
            kth_value = torch.topk(logits, self.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth_value, float("-inf"))
        probabilities = torch.softmax(logits, dim=-1)

        tokens = torch.empty(logits.shape[0], dtype=torch.long, device=logits.device)
        for sample, generator in enumerate(self.generators):
            rows = slice(sample * self.num_codebooks, (sample + 1) * self.num_codebooks)
            tokens[rows] = torch.multinomial(probabilities[rows], 1, generator=generator).squeeze(-1)
        return tokens

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        tokens = self.draw(self.guided_logits(scores))
        self.chosen.append(tokens)

        # One-hot scores: greedy decoding picks exactly the drawn token. Both halves get the same
        # rows, so a guidance processor that runs after this one leaves them unchanged.
        one_hot = torch.full(
            (self.rows, scores.shape[-1]), torch.finfo(scores.dtype).min, dtype=scores.dtype, device=scores.device
        )
        one_hot.scatter_(1, tokens[:, None], 0.0)
        if scores.shape[0] == 2 * self.rows:
            one_hot = torch.cat([one_hot, one_hot], dim=0)
        return one_hot
