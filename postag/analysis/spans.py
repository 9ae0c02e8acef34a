"""Span scores of chunk or entity tags (B-NP, I-NP, O), as CoNLL's ``conlleval`` reads them.

A tag is a prefix and a type (``B-NP``: B and NP; ``O``: outside any span;
postag.data.span_tags). A span starts at a B after B, I or O; at an I or E after O (a sentence
starts as if after an O); at an E or I after an E; and wherever the type changes. It ends before
a B or an O that follows B or I, before an E, I or O that follows an E, and where the type
changes (a sentence ends as if an O followed). So an ill-formed sequence (``O I-NP``) still makes
spans, the way conlleval counts them. A predicted span is correct when a gold span has the same
start, end and type; precision, recall and F1 follow, over all types and for each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import groupby

import torch
from torchmetrics import Metric

from postag.analysis.report import tag_row
from postag.data.span_tags import split_tag
from postag.data.tag_columns import joint_values

Span = tuple[int, int, str]  # first token, last token, type


# (previous prefix, prefix) pairs that start and end a span whatever the types, as conlleval has them
_START_PAIRS = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
_END_PAIRS = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}


def _starts(previous: str, previous_kind: str, prefix: str, kind: str) -> bool:
    return (previous, prefix) in _START_PAIRS or (prefix != "O" and kind != previous_kind)


def _ends(previous: str, previous_kind: str, prefix: str, kind: str) -> bool:
    return (previous, prefix) in _END_PAIRS or (previous != "O" and kind != previous_kind)


def spans(tags: Sequence[str]) -> set[Span]:
    """The spans of one sentence's tags."""
    found: set[Span] = set()
    previous, previous_kind, start = "O", "", None
    for i, tag in enumerate([*tags, "O"]):  # a sentence ends as if an O followed
        prefix, kind = split_tag(tag)
        if start is not None and _ends(previous, previous_kind, prefix, kind):
            found.add((start, i - 1, previous_kind))
            start = None
        if prefix != "O" and _starts(previous, previous_kind, prefix, kind):
            start = i
        previous, previous_kind = prefix, kind
    return found


def span_counts(gold: Sequence[str], predicted: Sequence[str]) -> Counter:
    """Counts of one sentence: ``gold``, ``predicted`` and ``correct`` spans, over all types
    (keys as they are) and per type (``(key, type)``)."""
    gold_spans, predicted_spans = spans(gold), spans(predicted)
    counts: Counter = Counter()
    for key, found in (("gold", gold_spans), ("predicted", predicted_spans), ("correct", gold_spans & predicted_spans)):
        counts[key] += len(found)
        counts.update((key, kind) for _, _, kind in found)
    return counts


def scores(counts: Counter, kind: str | None = None) -> dict[str, float]:
    """Precision, recall and F1 (0 where undefined) of ``counts``, over all types or of one."""
    key = (lambda name: name) if kind is None else (lambda name: (name, kind))
    correct, gold, predicted = counts[key("correct")], counts[key("gold")], counts[key("predicted")]
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def spans_per_type(tokens: Iterable, column: int, columns: int) -> list[dict]:
    """One per-tag row (postag.analysis.report.tag_row) for each span type of the tagged test
    tokens (postag.analysis.error_analysis.Token, in sentence order), read from ``column`` of their
    ``columns``-column tags: support is the gold spans, accuracy and recall the share of them found,
    precision the share of predicted spans that are right."""
    counts: Counter = Counter()
    for _, sentence in groupby(tokens, key=lambda token: token.sentence):
        pairs = [(joint_values(t.gold, columns)[column], joint_values(t.predicted, columns)[column]) for t in sentence]
        counts += span_counts([gold for gold, _ in pairs], [predicted for _, predicted in pairs])
    kinds = sorted({key[1] for key in counts if isinstance(key, tuple)})
    return [tag_row(kind, counts["gold", kind], counts["predicted", kind], counts["correct", kind]) for kind in kinds]


def span_summary(metrics: dict) -> str | None:
    """The line train.py and evaluate.py print for a span-tagged test split, else None."""
    if "test/span_f1" not in metrics:
        return None
    return (f"test span F1: {metrics['test/span_f1']:.4f} (precision {metrics['test/span_precision']:.4f}, "
            f"recall {metrics['test/span_recall']:.4f})")


class SpanF1(Metric):
    """Span precision, recall and F1 over a stage's batches; the counts add up across processes."""

    full_state_update = False

    def __init__(self, tag_names: Sequence[str], ignore_index: int):
        super().__init__()
        self.tag_names = list(tag_names)
        self.ignore_index = ignore_index
        for name in ("gold", "predicted", "correct"):
            self.add_state(name, default=torch.tensor(0), dist_reduce_fx="sum")

    def _names(self, ids: list[int]) -> list[str]:
        # a gold tag the training data never had (id past the model's tags) is outside any span
        return [self.tag_names[i] if i < len(self.tag_names) else "O" for i in ids]

    def update(self, preds: torch.Tensor, labels: torch.Tensor) -> None:
        # preds, labels: (B, S); labels are ignore_index on padding
        for predicted, gold in zip(preds.tolist(), labels.tolist()):
            length = sum(label != self.ignore_index for label in gold)
            counts = span_counts(self._names(gold[:length]), self._names(predicted[:length]))
            self.gold += counts["gold"]
            self.predicted += counts["predicted"]
            self.correct += counts["correct"]

    def compute(self) -> dict[str, torch.Tensor]:
        counts = Counter(gold=int(self.gold), predicted=int(self.predicted), correct=int(self.correct))
        return {name: torch.tensor(value) for name, value in scores(counts).items()}
