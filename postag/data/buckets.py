"""Sentences cut into batches of similar length, longest first: pure Python, so that the
torch-free runtime (``postag.portable``) batches as ``LengthBucketSampler`` does."""

from __future__ import annotations

from collections.abc import Sequence

# Tagging batches hold at most BATCH_SIZE sentences and MAX_TOKENS token slots (sentences x the
# longest): short sentences in big batches, long ones in small, so that little of a batch is padding.
BATCH_SIZE = 256
MAX_TOKENS = 2048


def longest_first(
    lengths: Sequence[int],
    batch_size: int,
    max_tokens: int | None = None,
    order: Sequence[int] | None = None,
    window: int | None = None,
) -> list[list[int]]:
    """Indices of sentences (``order``: those to batch, by default all) sorted by length, longest
    first, cut into batches of at most ``batch_size``; with ``max_tokens``, a batch also stops
    before its token slots (sentences x its first, longest) pass ``max_tokens``, so the few long
    sentences come in small batches and the many short ones in large batches.

    ``window``: a model's positions, past which it tags a batch in windows planned for the batch's
    length. A sentence longer than that gets a batch of its own, so that every sentence is tagged
    as it would be on its own."""
    if order is None:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, start = [], 0
    while start < len(order):
        size = batch_size
        if max_tokens is not None:
            size = max(1, min(size, max_tokens // max(1, lengths[order[start]])))
        end = min(start + size, len(order))
        if window is not None and lengths[order[start]] > window:
            end = start + 1
        batches.append(list(order[start:end]))
        start = end
    return batches
