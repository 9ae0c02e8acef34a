"""Sentences longer than the position table, run in overlapping windows.

A model with learned positions has ``max_len`` of them. A longer sentence is cut into
windows of ``max_len`` tokens, each starting ``max_len // 2`` after the last, that run as
ordinary rows of one batch; each token takes its output from the window in which it is
most central, so it sees at least a quarter window of context on each side (but at the
sentence's ends). Shapes: B = batch, S = sentence length, L = window length, K = windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import torch
import torch.nn.functional as F

from postag.data import IGNORE_INDEX, PAD_ID, Batch

# What each field of a Batch is padded with
_FILL = {"tokens": PAD_ID, "labels": IGNORE_INDEX, "mask": False, "chars": PAD_ID, "shapes": 0, "suffixes": PAD_ID,
         "affixes": PAD_ID, "norms": PAD_ID}


def window_plan(length: int, size: int) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    """(K windows, step, owner (S,), offset (S,)): token p is read from window owner[p] at offset[p]."""
    step = max(1, size // 2)
    count = 1 if length <= size else -(-(length - size) // step) + 1
    positions = torch.arange(length)
    owner = ((positions - size // 4).div(step, rounding_mode="floor")).clamp(0, count - 1)  # (S,)
    return count, step, owner, positions - owner * step


def windowed(run: Callable[[Batch], torch.Tensor], batch: Batch, size: int) -> torch.Tensor:
    """``run(batch)`` (B, S, ...) for a batch of any length, ``run`` seeing at most ``size`` tokens."""
    length = batch.tokens.size(1)
    if length <= size:
        return run(batch)
    count, step, owner, offset = window_plan(length, size)
    padded_length = (count - 1) * step + size
    columns = torch.arange(count)[:, None] * step + torch.arange(size)[None, :]  # (K, L) positions of each window

    def cut(name: str) -> torch.Tensor:
        value = getattr(batch, name)  # (B, S, ...)
        trailing = [0, 0] * (value.dim() - 2)
        value = F.pad(value, [*trailing, 0, padded_length - length], value=_FILL[name])  # (B, S', ...)
        windows = value[:, columns.to(value.device)]  # (B, K, L, ...)
        return windows.transpose(0, 1).flatten(0, 1)  # (K * B, L, ...), window-major

    out = run(Batch(**{f.name: cut(f.name) for f in fields(Batch)}))  # (K * B, L, ...)
    out = out.unflatten(0, (count, batch.tokens.size(0)))  # (K, B, L, ...)
    return out[owner.to(out.device), :, offset.to(out.device)].transpose(0, 1)  # (B, S, ...)
