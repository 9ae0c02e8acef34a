"""Tagging new text with a trained checkpoint: ``Tagger.load(path).tag(["The", "cat", "sat", "."])``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from postag.data.buckets import BATCH_SIZE, MAX_TOKENS
from postag.data.corpus import Sentence
from postag.data.tag_columns import outputs
from postag.data import Batch, LengthBucketSampler, Vocabularies
from postag.network.span_decoder import span_decoder
from postag.network.tagging import TaggingNetwork, best_tags
from postag.network.word_cache import KnownWordFeatures
from postag.training.checkpoint_file import load_network

if TYPE_CHECKING:  # tagging runs without Lightning, which the training module imports
    from postag.training.module import TaggerModule



@dataclass
class Explanation:
    """One sentence as the model sees it: its tags, the most likely tags of each word with their
    probabilities, and the attention weights of every block and head (of the first tagger)."""

    words: list[str]
    tags: list[str]
    top: list[list[tuple[str, float]]]  # per word, (tag, probability), most likely first
    attention: torch.Tensor  # (n, h, S, S): row i is how word i spreads its attention over the words


class Tagger:
    """A trained tagger: its network (``model``), its vocabularies and the device it runs on."""

    def __init__(
        self,
        model: TaggerModule | TaggingNetwork,
        vocab: Vocabularies,
        device: str | torch.device = "cpu",
        batch_size: int = BATCH_SIZE,
        bf16: bool = False,
        max_tokens: int | None = MAX_TOKENS,
        compile: bool = False,
    ):
        self.device = torch.device(device)
        # The network alone: tagging needs no training loop.
        net = model if isinstance(model, TaggingNetwork) else model.net
        self.model = net.to(self.device).eval()
        # Each new word's record is worked out for the features the model reads, and no others.
        self.vocab = vocab.for_fields(self.model.record_fields())
        # Known words' features worked out once, not again in every batch they appear in
        self._word_features = KnownWordFeatures(len(self.vocab.words))
        self._span_decoder = span_decoder(vocab.tags.itos, vocab.conllu_column, vocab.spans_open_with_b)
        self.batch_size = batch_size
        self.max_tokens = max_tokens  # None: batches of batch_size sentences only
        # bf16 autocast: faster on CPUs with bf16 instructions (docs/benchmarks.md)
        self.bf16 = bf16
        if compile:
            # Fused kernels for the hand-built layers; the first batches wait for compilation
            # (tens of seconds), so it pays off on large inputs only.
            self.model.compile_encoders()

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        batch_size: int = BATCH_SIZE,
        bf16: bool = False,
        max_tokens: int | None = MAX_TOKENS,
        compile: bool = False,
    ) -> Tagger:
        """From a checkpoint written by train.py; device defaults to CUDA when available."""
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        net, vocab, _ = load_network(path, map_location="cpu")
        return cls(
            net, vocab, device=device, batch_size=batch_size, bf16=bf16, max_tokens=max_tokens, compile=compile
        )

    @property
    def conllu_column(self) -> str:
        """The CoNLL-U column of the model's kind of tag (``postag.data.conllu.TAG_COLUMNS``)."""
        return self.vocab.conllu_column

    def tag(self, words: Sequence[str]) -> list[str]:
        """Tags of one tokenised sentence."""
        return self.tag_sentences([words])[0]

    @torch.inference_mode()  # no autograd bookkeeping at all: the outputs are only read
    def tag_sentences(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags of many sentences, in their order (lemmas for a model of lemmas); batched by length,
        so little work goes to padding.

        An empty sentence gets no tags. A sentence longer than the model's positions is tagged
        in overlapping windows (``postag.network.windows``).
        """
        if isinstance(sentences, str) or any(isinstance(s, str) for s in sentences):
            raise TypeError("tag_sentences takes a list of tokenised sentences (lists of words), not strings")
        results: list[list[str]] = [[] for _ in sentences]
        real = [i for i, words in enumerate(sentences) if len(words) > 0]
        lengths = [len(sentences[i]) for i in real]
        window = self.model.encoder.window  # longer sentences: in windows, each a batch of its own
        batches = LengthBucketSampler(lengths, self.batch_size, shuffle=False, max_tokens=self.max_tokens, window=window)
        for batch_ids in batches:
            ids = [real[j] for j in batch_ids]
            batch = self.vocab.encode_batch([sentences[i] for i in ids])
            batch = self._to_device(batch)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                scores = self.model(batch, features=self._word_features)  # (B, S, T)
            best = best_tags(scores, batch.mask, self._span_decoder).tolist()  # (B, S)
            for row, i in zip(best, ids):
                tags = [self.vocab.tags.itos[t] for t in row[: len(sentences[i])]]
                results[i] = outputs(sentences[i], tags, self.conllu_column)
        return results

    @torch.inference_mode()
    def explain(self, words: Sequence[str], top: int = 3) -> Explanation:
        """Tags, the ``top`` most likely tags with their probabilities, and the attention weights
        of one tokenised sentence (up to the model's max_len words when it has positions)."""
        if isinstance(words, str) or not words:
            raise ValueError("explain takes one tokenised sentence: a non-empty list of words")
        batch = self._to_device(self.vocab.encode_batch([list(words)]))
        scores, weights = self.model.forward_with_attention(batch)
        probabilities = scores[0].float().softmax(dim=-1)  # (S, T)
        values, ids = probabilities.topk(min(top, probabilities.size(-1)), dim=-1)
        names = self.vocab.tags.itos
        best = [[(names[i], p) for i, p in zip(*row)] for row in zip(ids.tolist(), values.tolist())]
        return Explanation(
            words=list(words),
            tags=[names[t] for t in best_tags(scores, batch.mask, self._span_decoder)[0].tolist()],
            top=best,
            attention=torch.stack([w[0] for w in weights]).float().cpu(),  # (n, h, S, S)
        )

    def _to_device(self, batch: Batch) -> Batch:
        return Batch(**{name: value.to(self.device) for name, value in vars(batch).items()})


def tagged_test_tokens(model: TaggerModule, vocab: Vocabularies, sentences: Sequence[Sentence]) -> tuple[list, list]:
    """(gold sentences, tokens) of ``sentences`` (words, gold tags) as the model tags them: each
    token with its gold and predicted tag, or lemma for a model of lemmas, and whether training saw it."""
    # imported here: postag.analysis imports torchmetrics, which tagging does without
    from postag.analysis.column_scores import gold_outputs
    from postag.analysis.error_analysis import tagged_tokens

    gold = gold_outputs(sentences, vocab.conllu_column)
    predictions = Tagger(model, vocab, device=model.device).tag_sentences([words for words, _ in gold])
    return gold, tagged_tokens(gold, predictions, vocab.words)
