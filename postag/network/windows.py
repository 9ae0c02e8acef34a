"""Sentences longer than the position table, run in overlapping windows.

A model with learned positions has ``max_len`` of them. A longer sentence is cut into
windows of ``max_len`` tokens (``postag.network.window_plan``), that run as ordinary rows
of one batch. Shapes: B = batch, S = sentence length, L = window length, K = windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import torch
import torch.nn.functional as F

from postag.data import IGNORE_INDEX, PAD_ID, Batch
from postag.network.window_plan import window_plan as plan_windows

# What each field of a Batch is padded with
_FILL = {"tokens": PAD_ID, "labels": IGNORE_INDEX, "mask": False, "chars": PAD_ID, "shapes": 0, "suffixes": PAD_ID,
         "affixes": PAD_ID, "norms": PAD_ID}


def window_plan(length: int, size: int) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    """(K windows, step, owner (S,), offset (S,)): token p is read from window owner[p] at offset[p]."""
    plan = plan_windows(length, size)
    return plan.count, plan.step, torch.tensor(plan.owner), torch.tensor(plan.offset)


def windowed(run: Callable[[Batch], torch.Tensor], batch: Batch, size: int) -> torch.Tensor:
    """``run(batch)`` (B, S, ...) for a batch of any length, ``run`` seeing at most ``size`` tokens."""
    length = batch.tokens.size(1)
    if length <= size:
        return run(batch)
    plan = plan_windows(length, size)
    count, padded_length = plan.count, plan.padded_length
    owner, offset = torch.tensor(plan.owner), torch.tensor(plan.offset)  # (S,), (S,)
    columns = torch.tensor(plan.columns())  # (K, L) positions of each window

    def cut(name: str) -> torch.Tensor:
        value = getattr(batch, name)  # (B, S, ...)
        trailing = [0, 0] * (value.dim() - 2)
        value = F.pad(value, [*trailing, 0, padded_length - length], value=_FILL[name])  # (B, S', ...)
        windows = value[:, columns.to(value.device)]  # (B, K, L, ...)
        return windows.transpose(0, 1).flatten(0, 1)  # (K * B, L, ...), window-major

    out = run(Batch(**{f.name: cut(f.name) for f in fields(Batch)}))  # (K * B, L, ...)
    out = out.unflatten(0, (count, batch.tokens.size(0)))  # (K, B, L, ...)
    return out[owner.to(out.device), :, offset.to(out.device)].transpose(0, 1)  # (B, S, ...)
