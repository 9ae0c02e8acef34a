"""Batches: encoded sentences (Example), padded batches with masks (Batch), word dropout,
and the length-bucketing batch sampler."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from postag.data.features import N_AFFIXES, N_NORMS
from postag.data.buckets import longest_first
from postag.data.records import PAD_ID, UNK_ID

IGNORE_INDEX = -100  # label of padded positions; cross-entropy and the metrics skip it


class Example(NamedTuple):
    """One encoded sentence, as tensors made once so that batching only copies them.

    Lists are accepted too (``collate`` converts them), which keeps hand-made examples short.
    """

    words: torch.Tensor  # (S,) word ids
    tags: torch.Tensor  # (S,) tag ids; empty when the sentence has no tags
    chars: torch.Tensor  # (S, W) character ids of each word, PAD_ID after its end (W = MAX_WORD_CHARS once encoded)
    shapes: torch.Tensor  # (S,) word_shape of each word
    suffixes: torch.Tensor  # (S,) suffix ids
    affixes: torch.Tensor | None = None  # (S, N_AFFIXES) affix ids, PAD_ID where the word is too short; None: all PAD_ID
    norms: torch.Tensor | None = None  # (S, N_NORMS) lowercase-form ids, PAD_ID where there is none; None: all PAD_ID


def _as_long(values) -> torch.Tensor:
    return values if isinstance(values, torch.Tensor) else torch.tensor(values, dtype=torch.long)


def _char_matrix(chars, width: int = 0) -> torch.Tensor:
    """(S, W) from a tensor, or from a list of per-word id lists padded with PAD_ID to at
    least ``width`` columns (encoded sentences all get MAX_WORD_CHARS, so batching needs no re-padding)."""
    if isinstance(chars, torch.Tensor):
        return chars
    width = max(width, max((len(c) for c in chars), default=0))
    return torch.tensor([list(c) + [PAD_ID] * (width - len(c)) for c in chars], dtype=torch.long).view(len(chars), width)


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, S) word ids, PAD_ID on padding
    labels: torch.Tensor  # (B, S) tag ids, IGNORE_INDEX on padding
    mask: torch.Tensor  # (B, S) bool, True on real tokens
    chars: torch.Tensor  # (B, S, W) character ids, PAD_ID on padding
    shapes: torch.Tensor  # (B, S) word-shape ids, 0 on padding
    suffixes: torch.Tensor  # (B, S) suffix ids, PAD_ID on padding
    affixes: torch.Tensor  # (B, S, N_AFFIXES) affix ids, PAD_ID on padding
    norms: torch.Tensor  # (B, S, N_NORMS) lowercase-form ids, PAD_ID on padding

    def to(self, device) -> Batch:
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


# The fields that spell out each word (all but its id, its tag and the mask), padded with PAD_ID
# (a shape's padding is 0 too): what word dropout's hide_spelling clears.
SPELLING_FIELDS = tuple(f.name for f in fields(Batch) if f.name not in ("tokens", "labels", "mask"))


def to_longest_word(chars: torch.Tensor) -> torch.Tensor:
    """(B, S, width) -> (B, S, W), W the longest word's length in the batch (at least 1).

    The convolutions need not run over columns where no word has a character.
    """
    columns = (chars != PAD_ID).flatten(0, 1).any(dim=0)  # (width,) True where some word has a character
    widest = int(columns.nonzero().max()) + 1 if bool(columns.any()) else 1
    return chars[:, :, :widest]


def collate(examples: Sequence[Example]) -> Batch:
    """Pad a list of examples to the longest sentence (and longest word) in the batch."""
    lengths = torch.tensor([len(e.words) for e in examples])
    longest = int(lengths.max())
    char_rows = [_char_matrix(e.chars) for e in examples]
    width = max(1, max(c.size(1) for c in char_rows))
    # Rows of one width stack in one call; hand-made examples of other widths are padded first.
    char_rows = [c if c.size(1) == width else F.pad(c, (0, width - c.size(1)), value=PAD_ID) for c in char_rows]
    chars = to_longest_word(pad_sequence(char_rows, batch_first=True, padding_value=PAD_ID))  # (B, S, W)

    def rows_of(field: str, width: int) -> list[torch.Tensor]:
        """Each example's (S, width) ids of a field that hand-made examples may leave out (None)."""
        values = [getattr(e, field) for e in examples]
        return [
            _as_long(v) if v is not None else torch.full((len(e.words), width), PAD_ID) for v, e in zip(values, examples)
        ]

    def padded(field: str, fill: int) -> torch.Tensor:
        rows = [_as_long(getattr(example, field)) for example in examples]
        out = pad_sequence(rows, batch_first=True, padding_value=fill)  # (B, longest of these rows)
        # Unlabelled sentences have empty tag rows: pad them out to the sentence length too.
        return out if out.size(1) == longest else F.pad(out, (0, longest - out.size(1)), value=fill)

    return Batch(
        tokens=padded("words", PAD_ID),
        labels=padded("tags", IGNORE_INDEX),
        mask=torch.arange(longest)[None, :] < lengths[:, None],  # from lengths, not from token ids
        chars=chars,
        shapes=padded("shapes", 0),
        suffixes=padded("suffixes", PAD_ID),
        affixes=pad_sequence(rows_of("affixes", N_AFFIXES), batch_first=True, padding_value=PAD_ID),  # (B, S, N_AFFIXES)
        norms=pad_sequence(rows_of("norms", N_NORMS), batch_first=True, padding_value=PAD_ID),  # (B, S, N_NORMS)
    )




class WordDropoutCollate:
    """``collate`` that replaces real training tokens by ``<unk>`` (word dropout).

    Without it, ``<unk>`` never occurs in training (every training word is in the
    vocabulary), so the model has not learned what to do with unseen words.
    Each token is replaced with probability ``p``; with ``rare_alpha`` > 0 and the
    training ``counts`` of each word id, also with probability alpha / (alpha + count),
    so that ``<unk>`` is learned mostly from rare words, which are what unseen words resemble.
    A replaced token also loses its lowercase form with probability NORM_DROP, so that the model
    learns both unseen words whose lowercase form was seen and those whose was not.
    With ``hide_spelling`` (beta) > 0, a replaced word seen ``c`` times in training also loses its
    whole spelling (characters, shape, suffix, affixes, lowercase forms: padding, as if it had
    none) with probability c / (c + beta): a frequent word replaced must then be tagged from its
    context alone, and ``<unk>`` with a spelling is learned from rare words, as unseen words come,
    rather than from frequent ones, whose spellings it would tie to their own tags (an unseen
    "bike" tagged as a preposition, as "like" is).
    """

    NORM_DROP = 0.5

    def __init__(
        self, p: float, rare_alpha: float = 0.0, counts: torch.Tensor | None = None, hide_spelling: float = 0.0
    ):
        if (rare_alpha > 0 or hide_spelling > 0) and counts is None:
            raise ValueError("rare-word dropout and hiding spellings need the training count of every word id")
        self.p = p
        # (V,) probability of replacing each word id; unused ids (count 0) are never seen here
        self.rare_p = rare_alpha / (rare_alpha + counts.double().clamp_min(1)) if rare_alpha > 0 else None
        # (V,) probability that a replaced word also loses its spelling
        self.hide_p = counts.double() / (counts.double() + hide_spelling) if hide_spelling > 0 else None

    def __call__(self, examples: Sequence[Example]) -> Batch:
        batch = collate(examples)
        # One uniform draw a token decides both: the word is replaced when it falls in the replaced
        # share, its lowercase form too when it falls in the first NORM_DROP of that share. No
        # second draw, so the random stream, and a seeded run, is what it was before lowercase forms.
        if self.rare_p is not None:
            keep = (1.0 - self.p) * (1.0 - self.rare_p[batch.tokens])  # (B, S)
            draw = torch.rand(batch.tokens.shape, dtype=torch.double)
            drop = (draw >= keep) & batch.mask
            drop_lowercase = drop & (draw >= 1.0 - (1.0 - keep) * self.NORM_DROP)
        elif self.p > 0:
            draw = torch.rand(batch.tokens.shape)
            drop = (draw < self.p) & batch.mask
            drop_lowercase = drop & (draw < self.p * self.NORM_DROP)
        else:
            return batch
        # A second draw only when spellings are hidden, so that runs without it draw what they drew.
        hide = None
        if self.hide_p is not None:
            hide = drop & (torch.rand(batch.tokens.shape, dtype=torch.double) < self.hide_p[batch.tokens])  # (B, S)
        batch.tokens = batch.tokens.masked_fill(drop, UNK_ID)
        lowercase = batch.norms[..., 0]  # (B, S)
        batch.norms[..., 0] = lowercase.masked_fill(drop_lowercase & (lowercase != PAD_ID), UNK_ID)
        if hide is not None:
            for name in SPELLING_FIELDS:
                value = getattr(batch, name)  # (B, S) or (B, S, K)
                setattr(batch, name, value.masked_fill(hide.view(*hide.shape, *[1] * (value.dim() - 2)), PAD_ID))
        return batch


def word_counts(examples: Sequence[Example], vocab_size: int) -> torch.Tensor:
    """(V,) how often each word id occurs in ``examples``."""
    if not examples:
        return torch.zeros(vocab_size, dtype=torch.long)
    return torch.bincount(torch.cat([_as_long(e.words) for e in examples]), minlength=vocab_size)



class LengthBucketSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of sentences of similar length, so that little of each batch is padding.

    shuffle=True (training): each epoch, shuffle the sentences, cut them into pools of
    ``pool_batches`` batches, sort each pool by length, cut the pools into batches
    and shuffle the order of the batches. The order depends only on ``seed`` and the
    epoch (Lightning calls ``set_epoch``), so a seeded run and a resumed run see the same batches.
    shuffle=False (evaluation, tagging): sentences sorted by length, longest first; with
    ``max_tokens``, a batch also stops before its token slots (sentences x the longest)
    pass ``max_tokens``, so the few long sentences come in small batches and the many
    short ones in large batches, with little padding in either; with ``window`` (a model's
    positions), a sentence longer than it gets a batch of its own (``longest_first``).

    With ``num_replicas`` > 1 (several processes), in training each rank takes every
    ``num_replicas``-th batch, the first batches repeated so that every rank steps the
    same number of times; in evaluation each rank takes every ``num_replicas``-th
    sentence, so that no sentence is scored twice.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
        max_tokens: int | None = None,
        window: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.num_replicas = num_replicas
        self.rank = rank
        self.max_tokens = max_tokens
        self.window = window  # shuffle=False: longest_first's window
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if not self.shuffle:
            order = sorted(range(len(self.lengths)), key=lambda i: -self.lengths[i])
            # Several processes: every num_replicas-th sentence, so shares are exact (no
            # sentence counted twice) and differ by at most one sentence.
            order = order[self.rank :: self.num_replicas]
            return longest_first(self.lengths, self.batch_size, self.max_tokens, order, self.window)
        rng = random.Random(self.seed * 100_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        rng.shuffle(batches)
        return batches

    def _shares(self) -> list[list[int]]:
        batches = self._batches()
        if self.num_replicas == 1 or not self.shuffle:
            return batches
        # Training: every rank must step the same number of times, so the first batches
        # are repeated to fill the last round.
        per_rank = -(-len(batches) // self.num_replicas)
        batches = (batches * (1 + self.num_replicas))[: per_rank * self.num_replicas]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self):
        return iter(self._shares())

    def __len__(self) -> int:
        return len(self._shares())


def padding_share(batches: Iterable[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of the token slots of padded batches that are padding."""
    slots = real = 0
    for batch in batches:
        batch_lengths = [lengths[i] for i in batch]
        slots += max(batch_lengths) * len(batch_lengths)
        real += sum(batch_lengths)
    return 1.0 - real / slots if slots else 0.0

