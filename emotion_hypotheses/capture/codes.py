"""The codebook delay pattern: MusicGen's step grid versus de-delayed audio frames.

With K codebooks, codebook k emits the code of frame f at step k + f, so N decoding steps hold
N + 1 - K complete frames. The step grid keeps the pad id where the pattern masks a position.
"""

from __future__ import annotations

import numpy as np


def frame_count(steps: int, num_codebooks: int) -> int:
    """Return how many complete frames ``steps`` decoding steps give."""
    return steps + 1 - num_codebooks


def steps_for_frames(frames: int, num_codebooks: int) -> int:
    """Return how many decoding steps produce ``frames`` complete frames."""
    return frames + num_codebooks - 1


def dedelay(step_grid: np.ndarray) -> np.ndarray:
    """Turn a (K, N) step grid into (K, N + 1 - K) frames by undoing each codebook's delay."""
    num_codebooks, steps = step_grid.shape[-2:]
    frames = frame_count(steps, num_codebooks)
    if frames < 1:
        raise ValueError(f"{steps} steps hold no complete frame with {num_codebooks} codebooks")
    rows = [step_grid[..., k, k : k + frames] for k in range(num_codebooks)]
    return np.stack(rows, axis=-2)


def delay(frames: np.ndarray, pad_id: int) -> np.ndarray:
    """Turn (K, F) frames into the (K, F + K - 1) step grid, with ``pad_id`` where the pattern masks."""
    num_codebooks, frame_total = frames.shape[-2:]
    steps = steps_for_frames(frame_total, num_codebooks)
    grid = np.full(frames.shape[:-2] + (num_codebooks, steps), pad_id, dtype=frames.dtype)
    for k in range(num_codebooks):
        grid[..., k, k : k + frame_total] = frames[..., k, :]
    return grid
