"""What a word's own form tells the encoder: its characters (a CNN over them), its shape,
suffix and affixes, summed into one vector per token (``WordFeatures``).

Shapes in comments use B = batch, S = sequence length, H = hidden size; for characters,
N = words, W = characters of the longest, C = size of a character embedding,
R = real (non-padding) characters, A = affixes of a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from postag.network.model import init_small_embedding_, relu


def unique_rows(rows: torch.Tensor, n_values: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(rows, dim=0, return_inverse=True)`` for (N, W) rows of ids in [0, n_values):
    the same distinct rows in the same (lexicographic) order, and each row's index among them.

    torch's row-wise unique compares rows one element at a time on the CPU, slowly. Here the
    columns are read a few at a time as one integer key below 2**62, prefixed by the rank of the
    columns before them, and ranked with a 1-D unique.
    """
    count, width = rows.shape
    bits = max(1, (n_values - 1).bit_length())
    if bits + count.bit_length() > 62:  # a rank and at least one column must fit the key
        raise ValueError(f"{count} rows of ids of up to {n_values} values do not fit a 62-bit key")
    rank = rows.new_zeros(count)  # (N,) rank of each row's columns read so far
    ranks, column = 1, 0
    while column < width:
        take = max(1, (62 - (ranks - 1).bit_length()) // bits)
        key = rank
        for c in range(column, min(width, column + take)):
            key = key * (1 << bits) + rows[:, c]  # (N,) lexicographic in (rank, columns)
        column += take
        distinct, rank = torch.unique(key, return_inverse=True)
        ranks = distinct.numel()
    # one row for each rank: the first that has it
    first = rank.new_zeros(ranks).scatter_reduce_(
        0, rank, torch.arange(count, device=rows.device), "amin", include_self=False
    )
    return rows[first], rank  # (U, W), (N,)


class PackedChars(NamedTuple):
    """A batch's characters as the ONNX runtime hands them (``postag.portable``): the real
    characters of each distinct word of the batch, one word after another, each token's word,
    and where each word's characters lie. Every shape follows from the input alone, so a traced
    graph can hold the computation."""

    ids: torch.Tensor  # (R,) character ids
    word: torch.Tensor  # (R,) the distinct word of each character, numbered from 1
    index: torch.Tensor  # (B, S) each token's distinct word, 0 for padding tokens
    slots: torch.Tensor  # (U, L) word u's j-th character's place in ids; R after the word's end

    @classmethod
    def of(cls, chars: torch.Tensor) -> PackedChars:
        """From (B, S, W) character ids."""
        batch, seq, width = chars.shape
        rows = torch.cat([chars.new_zeros(1, width), chars.reshape(batch * seq, width)])  # padding first
        types, index = unique_rows(rows, int(rows.max()) + 1)  # (U + 1, W); the row of zeros sorts first
        types = types[1:]  # (U, W): the words; their numbers start from 1
        real = types != 0  # (U, W)
        word = torch.arange(1, types.size(0) + 1, device=chars.device)[:, None].expand_as(types)
        slots = torch.full_like(types, int(real.sum()))
        slots[real] = torch.arange(int(real.sum()), device=chars.device)
        longest = int(real.sum(1).max()) if types.size(0) else 0
        return cls(types[real], word[real], index[1:].reshape(batch, seq), slots[:, :longest])


class CharCNN(nn.Module):
    """A word's vector from its characters: embeddings, convolutions, max over positions.

    Lets the tagger see suffixes, capitals and digits of words it has never seen.
    One convolution of ``hidden_n`` filters per width in ``kernel_sizes``: a window of
    4 or 5 characters that overhangs the word's end sees a whole suffix ("tion", "ing")
    together with the end of the word.
    """

    def __init__(
        self,
        char_vocab_size: int,
        char_n: int,
        hidden_n: int,
        kernel_sizes: Sequence[int] = (3,),
        pad_id: int = 0,
    ):
        super().__init__()
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if not kernel_sizes or min(kernel_sizes) < 1:
            raise ValueError(f"character kernel sizes must be a non-empty list of positive widths, got {kernel_sizes}")
        self.kernel_sizes = kernel_sizes
        self.embedding = nn.Embedding(char_vocab_size, char_n, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(char_n, hidden_n, k) for k in kernel_sizes)
        # Starts as small as the word embeddings (std 0.02), so the character vector
        # does not drown a known word's own embedding at the start of training.
        self.out = nn.Linear(hidden_n * len(kernel_sizes), hidden_n)
        nn.init.normal_(self.out.weight, std=0.02)
        nn.init.zeros_(self.out.bias)
        self.pad_id = pad_id

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before several widths existed name their one convolution "conv".
        for name in ("weight", "bias"):
            old = f"{prefix}conv.{name}"
            if old in state_dict:
                state_dict[f"{prefix}convs.0.{name}"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # True: each distinct word of a batch is encoded once; False: every token (the same vectors,
    # kept so that the benchmark can time both side by side)
    per_type = True

    def word_vectors(self, words: torch.Tensor) -> torch.Tensor:
        """(N, W) character ids of N words -> (N, H) their vectors.

        The convolution of width k at each of the R real characters of the words: its window of
        k characters' embeddings (padding outside the word, an embedding of zeros) times the
        filters, one matrix product. Most of a (N, W) batch is padding after short words, so
        convolving only the real characters does a fraction of a padded convolution's work.
        """
        count, width = words.shape
        real = (words != self.pad_id).flatten().nonzero().squeeze(1)  # (R,) real characters in (N*W)
        word_of = torch.div(real, width, rounding_mode="floor")  # (R,) the word of each real character
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            # Output i sees characters i - (k-1)//2 .. i + k//2, as a "same" Conv1d would.
            windows = F.pad(words, ((k - 1) // 2, k // 2), value=self.pad_id).unfold(1, k, 1)  # (N, W, k)
            x = self.embedding(windows.flatten(0, 1).index_select(0, real)).flatten(1)  # (R, k*C)
            filters = conv.weight.permute(2, 1, 0).flatten(0, 1)  # (H, C, k) -> (k*C, H), as x's columns
            y = relu(torch.addmm(conv.bias, x, filters), inplace=True)  # (R, H)
            # Max over each word's characters, straight from the real ones into a row of zeros per
            # word, which after ReLU (every value >= 0) cannot change a maximum: faster than copying
            # them into (N, W) slots first and taking the maximum there.
            pooled.append(
                y.new_zeros(count, y.size(1)).scatter_reduce_(0, word_of[:, None].expand_as(y), y, "amax")
            )  # (N, H)
        return self.out(torch.cat(pooled, dim=-1))  # (N, H)

    def packed_forward(self, chars: PackedChars) -> torch.Tensor:
        """``forward`` from PackedChars: each distinct word's vector once, then each token's."""
        count = chars.ids.size(0)
        last = chars.ids.new_full((1,), count - 1)
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            # Character r's window: r - (k-1)//2 .. r + k//2, padding where it leaves r's word.
            offsets = torch.arange(k, device=chars.ids.device) - (k - 1) // 2  # (k,)
            at = torch.arange(count, device=chars.ids.device)[:, None] + offsets[None, :]  # (R, k)
            clipped = torch.minimum(at.clamp(min=0), last)
            inside = (at >= 0) & (at < count) & (chars.word[clipped] == chars.word[:, None])
            windows = torch.where(inside, chars.ids[clipped], torch.full_like(clipped, self.pad_id))  # (R, k)
            filters = conv.weight.permute(2, 1, 0).flatten(0, 1)  # (H, C, k) -> (k*C, H)
            y = relu(torch.addmm(conv.bias, self.embedding(windows).flatten(1), filters))  # (R, H)
            # Max over each word's characters, read from their slots; a slot after the word's end
            # reads an appended row of zeros, which after ReLU (every value >= 0) changes no maximum.
            y = torch.cat([y, y.new_zeros(1, y.size(1))])  # (R + 1, H)
            pooled.append(y[chars.slots].amax(1))  # (U, H)
        vectors = self.out(torch.cat(pooled, dim=-1))  # (U, H)
        # row 0, a padding token without characters: the output bias, as in forward
        vectors = torch.cat([self.out.bias[None].to(vectors.dtype), vectors])  # (U + 1, H)
        return vectors[chars.index]  # (B, S, H)

    def forward(self, chars: torch.Tensor | PackedChars) -> torch.Tensor:
        # chars: (B, S, W) character ids, a padding token without any; or the batch's PackedChars
        if isinstance(chars, PackedChars):
            return self.packed_forward(chars)
        batch, seq, width = chars.shape
        flat = chars.reshape(batch * seq, width)  # (B*S, W)
        # Only real tokens go through the convolution: padding tokens are often half the batch.
        real = flat[:, 0] != self.pad_id  # (B*S,)
        words = flat[real]  # (N, W)
        if self.per_type:
            # A word's vector does not depend on its context: each distinct word once (U of them).
            types, token_type = unique_rows(words, self.embedding.num_embeddings)  # (U, W), (N,)
            # index_select, not indexing: its backward adds each word's gradients in the same order
            # every time, where indexing's does not on the CPU and runs stopped being repeatable.
            vectors = self.word_vectors(types).index_select(0, token_type)  # (N, H)
        else:
            vectors = self.word_vectors(words)  # (N, H)
        # A padding token gets the output bias, as it did when every position was convolved.
        out = self.out.bias.to(vectors.dtype).repeat(batch * seq, 1)  # bf16 under autocast
        out = out.index_put((real.nonzero(as_tuple=True)[0],), vectors)
        return out.reshape(batch, seq, -1)  # (B, S, H)


class WordFeatures(nn.Module):
    """Sum of the word features that are switched on: characters, shape, suffix, affixes, lowercase forms.

    Affixes: an embedding for each of a word's prefixes and suffixes (A of them, padding for
    those longer than the word), summed. Lowercase forms: one table for the word lowercased and
    for its lowercased part after the last hyphen (padding without one), summed.
    """

    def __init__(
        self,
        hidden_n: int,
        char_vocab_size: int = 0,
        char_n: int = 0,
        char_kernels: Sequence[int] = (3,),
        n_shapes: int = 0,
        suffix_vocab_size: int = 0,
        feature_dropout: float = 0.0,
        affix_vocab_size: int = 0,
        norm_vocab_size: int = 0,
    ):
        super().__init__()
        self.feature_dropout = feature_dropout
        self.chars = CharCNN(char_vocab_size, char_n, hidden_n, char_kernels) if char_n > 0 else None
        self.shape = nn.Embedding(n_shapes, hidden_n, padding_idx=0) if n_shapes > 0 else None
        self.suffix = nn.Embedding(suffix_vocab_size, hidden_n, padding_idx=0) if suffix_vocab_size > 0 else None
        self.affix = nn.Embedding(affix_vocab_size, hidden_n, padding_idx=0) if affix_vocab_size > 0 else None
        self.norm = nn.Embedding(norm_vocab_size, hidden_n, padding_idx=0) if norm_vocab_size > 0 else None
        for embedding in (self.shape, self.suffix, self.affix, self.norm):
            if embedding is not None:
                init_small_embedding_(embedding)

    @property
    def fields_read(self) -> set[str]:
        """The fields of a word's record (postag.data.records.RECORD_FIELDS) that forward reads."""
        tables = {
            "chars": self.chars, "shapes": self.shape, "suffixes": self.suffix, "affixes": self.affix, "norms": self.norm
        }
        return {field for field, table in tables.items() if table is not None}

    def forward(
        self,
        chars: torch.Tensor,
        shapes: torch.Tensor,
        suffixes: torch.Tensor,
        affixes: torch.Tensor | None = None,
        norms: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        parts = []
        if self.chars is not None:
            parts.append(self.chars(chars))  # (B, S, H)
        if self.shape is not None:
            parts.append(self.shape(shapes))
        if self.suffix is not None:
            parts.append(self.suffix(suffixes))
        if self.affix is not None:
            parts.append(self.affix(affixes).sum(dim=-2))  # (B, S, A, H) -> (B, S, H)
        if self.norm is not None:
            parts.append(self.norm(norms).sum(dim=-2))  # (B, S, N_NORMS, H) -> (B, S, H)
        if not parts:
            return None
        features = sum(parts)  # (B, S, H)
        if self.training and self.feature_dropout > 0:
            # Hide all word-internal features of a token at once, so that known words
            # keep learning from their own embeddings rather than only from their spelling.
            keep = torch.rand(features.shape[:-1], device=features.device) >= self.feature_dropout
            features = features * keep[..., None]
        return features
