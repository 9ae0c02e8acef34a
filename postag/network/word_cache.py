"""Word features of known words kept from batch to batch, for tagging (``KnownWordFeatures``).

A word's features (``WordFeatures``: its characters, shape, affixes) depend on its form alone,
and a word id other than padding and ``<unk>`` names exactly one form, so the features of a
known word need working out only the first time it is met. Text repeats its words from
batch to batch; each batch otherwise works out the character CNN of every distinct word again.

Shapes: B = sentences, S = tokens, H = hidden size, V = words in the vocabulary,
M = tokens whose features are worked out in this batch.
"""

from __future__ import annotations

import torch

from postag.data import UNK_ID, Batch
from postag.network.tagging import feature_inputs, features_of
from postag.network.word_features import WordFeatures


class KnownWordFeatures:
    """``features_of`` with the vectors of known words kept.

    For networks in eval mode whose weights no longer change (a ``Tagger``): the kept vectors
    are those of the weights when each word was first met. In training mode, or for a tagger
    without word features, it is ``features_of`` itself. Words not in the vocabulary (``<unk>``)
    are worked out in every batch, as each may be a different form.
    """

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size
        # per WordFeatures module (one per tagger of an ensemble): (vectors (V, H), kept (V,) bool)
        self._tables: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, word_features: WordFeatures, batch: Batch) -> torch.Tensor | None:
        if word_features.training or not word_features.fields_read:
            return features_of(word_features, batch)
        tokens = batch.tokens  # (B, S)
        vectors, kept = self._tables.get(id(word_features), (None, None))
        kept_here = kept[tokens] if kept is not None else torch.zeros_like(batch.mask)  # (B, S)
        # the tokens worked out now: every unknown word, and known ones met for the first time
        fresh = batch.mask & ((tokens == UNK_ID) | ~kept_here)  # (B, S)
        where = fresh.flatten().nonzero().squeeze(1)  # (M,) in the flattened (B*S) batch
        if where.numel() == 0:
            return vectors[tokens] if vectors is not None else features_of(word_features, batch)  # (B, S, H)
        # the fresh tokens as a batch of M one-word sentences
        inputs = (None if x is None else x.flatten(0, 1).index_select(0, where)[:, None] for x in feature_inputs(batch))
        computed = word_features(*inputs)[:, 0]  # (M, H)
        if vectors is None:
            # zeros: padding tokens read row 0, and padding must stay finite (LocalConvolution
            # zeroes it by a product)
            vectors = computed.new_zeros(self.vocab_size, computed.size(-1))  # (V, H)
            kept = torch.zeros(self.vocab_size, dtype=torch.bool, device=computed.device)  # (V,)
            self._tables[id(word_features)] = (vectors, kept)
        ids = tokens.flatten().index_select(0, where)  # (M,)
        known = ids != UNK_ID
        vectors[ids[known]] = computed[known].to(vectors.dtype)
        kept[ids[known]] = True
        out = vectors[tokens.flatten()]  # (B*S, H)
        out.index_copy_(0, where, computed.to(out.dtype))  # the unknown words' own
        return out.view(*tokens.shape, -1)  # (B, S, H)

