"""The tagging network: word features, the encoder and a tag head, one tagger or several averaged.

Shapes: B = sentences, S = tokens, H = hidden size, T = tags.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from postag.data import N_SHAPES, Batch, Vocabularies
from postag.data.tag_columns import tag_column_names
from postag.errors import SequenceTooLongError
from postag.network.model import Transformer
from postag.network.span_decoder import SpanDecoder
from postag.network.tag_head import ColumnsHead, tag_head
from postag.network.windows import windowed
from postag.network.word_features import WordFeatures

def best_tags(scores: torch.Tensor, mask: torch.Tensor, decoder: SpanDecoder | None = None) -> torch.Tensor:
    """The tag ids (B, S) of tag scores (B, S, T): each token's highest, or with a span decoder
    the best sequence whose spans open as the training tags' did."""
    if decoder is None:
        return scores.argmax(dim=-1)
    lengths = mask.sum(dim=1).cpu().numpy()
    return torch.from_numpy(decoder.best(scores.float().cpu().numpy(), lengths)).to(scores.device)


# TaggingNetwork's arguments that the data sets, each the size of one vocabulary
VOCABULARY_SIZES = {
    "vocab_size": "words",
    "char_vocab_size": "chars",
    "suffix_vocab_size": "suffixes",
    "affix_vocab_size": "affixes",
    "norm_vocab_size": "norms",
}


def data_arguments(vocab: Vocabularies) -> dict:
    """The arguments of TaggingNetwork that only the data knows: its tag names, how many columns'
    values each tag joins, and the vocabulary sizes."""
    return {
        "tag_names": vocab.tags.itos,
        "tag_columns": len(tag_column_names(vocab.conllu_column)),
        **{arg: len(getattr(vocab, name)) for arg, name in VOCABULARY_SIZES.items()},
    }


def feature_inputs(batch: Batch) -> tuple[torch.Tensor, ...]:
    """WordFeatures' inputs of a batch, in its order: characters, shapes, suffixes, affixes, lowercase forms."""
    return batch.chars, batch.shapes, batch.suffixes, batch.affixes, batch.norms


def features_of(word_features: WordFeatures, batch: Batch) -> torch.Tensor | None:
    """A tagger's word features of a batch's words: (B, S, H), or None with none switched on."""
    return word_features(*feature_inputs(batch))


# How a tagger's word features of a batch are worked out: features_of, or while tagging a
# postag.network.word_cache.KnownWordFeatures
FeaturesOf = Callable[[WordFeatures, Batch], torch.Tensor | None]


class TaggingNetwork(nn.Module):
    """``ensemble`` taggers, each its word features, a ``Transformer`` encoder and a linear head
    over the tags; several average their probabilities.

    Every argument is a plain value, listed in ``settings``: the network a checkpoint saved is
    rebuilt from them.
    """

    def __init__(
        self,
        vocab_size: int,
        tag_names: list[str],
        tag_columns: int = 1,
        char_vocab_size: int = 0,
        suffix_vocab_size: int = 0,
        affix_vocab_size: int = 0,
        norm_vocab_size: int = 0,
        hidden_n: int = 128,
        n: int = 3,
        h: int = 3,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        positional: bool = False,
        max_len: int = 256,
        norm_first: bool = True,
        attention: str = "manual",
        max_offset: int = 0,
        conv_kernel: int = 0,
        char_n: int = 0,
        char_kernels: tuple[int, ...] = (3,),
        shape_features: bool = False,
        affix_features: bool = False,
        norm_features: bool = False,
        feature_dropout: float = 0.0,
        ensemble: int = 1,
        joint_head: str = "columns",
    ):
        super().__init__()
        if ensemble < 1:
            raise ValueError(f"model.ensemble must be at least 1 (number of taggers), got {ensemble}")
        if hidden_n < 1:
            raise ValueError(f"model.hidden_n must be at least 1, got {hidden_n}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= feature_dropout < 1.0:
            raise ValueError(f"model.feature_dropout must be in [0, 1), got {feature_dropout}")
        if char_n < 0:
            raise ValueError(f"model.char_n must be 0 (off) or positive, got {char_n}")
        tag_names = list(tag_names)
        char_kernels = tuple(int(k) for k in char_kernels)
        self.settings = {name: value for name, value in locals().items() if name in SETTINGS}
        self.tag_names = tag_names

        def member() -> nn.ModuleDict:
            """One tagger: word-internal features, the encoder and the tag head."""
            return nn.ModuleDict(
                {
                    "encoder": Transformer(
                        emb_n=vocab_size,
                        hidden_n=hidden_n,
                        n=n,
                        h=h,
                        ff_dim=ff_dim,
                        dropout=dropout,
                        positional=positional,
                        max_len=max_len,
                        norm_first=norm_first,
                        attention=attention,
                        max_offset=max_offset,
                        conv_kernel=conv_kernel,
                    ),
                    "word_features": WordFeatures(
                        hidden_n,
                        char_vocab_size=char_vocab_size,
                        char_n=char_n,
                        char_kernels=char_kernels,
                        n_shapes=N_SHAPES if shape_features else 0,
                        suffix_vocab_size=suffix_vocab_size if shape_features else 0,
                        feature_dropout=feature_dropout,
                        affix_vocab_size=affix_vocab_size if affix_features else 0,
                        norm_vocab_size=norm_vocab_size if norm_features else 0,
                    ),
                    "head": tag_head(hidden_n, tag_names, tag_columns, joint_head),
                }
            )

        first = member()
        # The first tagger's parts are attributes of the network itself, so that a one-tagger
        # network has the parameter names it would have without an ensemble.
        self.encoder, self.word_features, self.head = first["encoder"], first["word_features"], first["head"]
        # More taggers, each with its own random initialisation and dropout, trained side by side
        # on the same batches.
        self.extra_members = nn.ModuleList(member() for _ in range(ensemble - 1))

    def members(self) -> list[tuple[WordFeatures, Transformer, nn.Module]]:
        """(word features, encoder, head) of every tagger, the network's own first."""
        others = [(m["word_features"], m["encoder"], m["head"]) for m in self.extra_members]
        return [(self.word_features, self.encoder, self.head), *others]

    def record_fields(self) -> set[str]:
        """The fields of a word's record that the network reads: the word ids and each tagger's
        word features (Vocabularies.for_fields)."""
        return {"words"}.union(*(word_features.fields_read for word_features, _, _ in self.members()))

    def compile_encoders(self) -> None:
        """torch.compile every tagger's encoder, in place: parameter names, and so checkpoints,
        stay those of the eager network."""
        for _, encoder, _ in self.members():
            encoder.compile(dynamic=True)  # batch and sentence lengths change from batch to batch

    def member_logits(
        self,
        batch: Batch,
        members: list | None = None,
        inputs: list | None = None,
        perturbations: list[torch.Tensor] | None = None,
        columns: list | None = None,
        features: FeaturesOf = features_of,
    ) -> list[torch.Tensor]:
        """Each tagger's logits (of ``members``, by default all), (B, S, T) each.

        ``columns`` receives each tagger's list of its columns' own value scores (C tensors
        (B, S, V)) where its head has them (a ColumnsHead); the loss can train them as well.

        For adversarial training (postag.training.losses): ``inputs`` receives each tagger's
        (word features, mask) as its encoder sees them, windows and all, so that the loss can be
        differentiated by them; ``perturbations`` (one per tagger, of those shapes) are added to them.

        ``features`` works out a tagger's word features of a batch: ``features_of``, or for tagging
        a ``KnownWordFeatures`` that keeps known words' vectors from batch to batch.
        """
        logits = []
        for i, (word_features, encoder, head) in enumerate(self.members() if members is None else members):
            with_columns = columns is not None and isinstance(head, ColumnsHead)

            def tagger(part: Batch) -> torch.Tensor:
                extra = features(word_features, part)  # (B, S, H) or None
                if inputs is not None:
                    if extra is None:  # what the embeddings are added to, so that the gradient is theirs
                        hidden_n = encoder.token_embedding.embedding_dim
                        extra = encoder.token_embedding.weight.new_zeros(*part.tokens.shape, hidden_n).requires_grad_()
                    inputs.append((extra, part.mask))
                if perturbations is not None:
                    extra = perturbations[i] if extra is None else extra + perturbations[i]
                hidden = encoder(part.tokens, part.mask, extra)  # (B, S, H)
                if with_columns:  # side by side, so that windows of long sentences join them too
                    return torch.cat([head(hidden), *head.column_logits(hidden)], dim=-1)  # (B, S, T + V...)
                return head(hidden)  # (B, S, T)

            out = self._run(tagger, encoder, batch)
            if with_columns:
                out, *values = out.split([len(self.tag_names), *(len(v) for v in head.values)], dim=-1)
                columns.append(values)
            logits.append(out)
        return logits

    @staticmethod
    def _run(tagger: Callable[[Batch], torch.Tensor], encoder: Transformer, batch: Batch) -> torch.Tensor:
        if encoder.window is None:
            return tagger(batch)
        return windowed(tagger, batch, encoder.window)  # longer sentences than the position table

    @staticmethod
    def combine(logits: list[torch.Tensor]) -> torch.Tensor:
        """One tagger's logits as they are; several: the log of their averaged probabilities."""
        if len(logits) == 1:
            return logits[0]
        log_probs = torch.stack([F.log_softmax(x.float(), dim=-1) for x in logits])  # (K, B, S, T)
        return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))  # (B, S, T)

    def forward(
        self, batch: Batch, features: FeaturesOf = features_of
    ) -> torch.Tensor:
        return self.combine(self.member_logits(batch, features=features))  # (B, S, T)

    def forward_with_attention(self, batch: Batch) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The tag scores, as ``forward`` gives them, and the attention weights of every block
        of the first tagger: a list of n (B, h, S, S). Sentences must fit the position table."""
        (word_features, encoder, head), *others = self.members()
        if encoder.window is not None and batch.tokens.size(1) > encoder.window:
            raise SequenceTooLongError(
                f"attention weights are for sentences of up to max_len={encoder.max_len} tokens, "
                f"got {batch.tokens.size(1)}"
            )
        extra = features_of(word_features, batch)  # (B, S, H) or None
        hidden, weights = encoder(batch.tokens, batch.mask, extra, need_weights=True)
        return self.combine([head(hidden), *self.member_logits(batch, others)]), weights


# The network's settings: its constructor's arguments, as the model config and checkpoints hold them
SETTINGS = tuple(inspect.signature(TaggingNetwork).parameters)
