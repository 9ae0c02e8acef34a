"""Lemma accuracy of a model of lemma rules, as UD's evaluation script counts it with gold
tokenisation: a word is right when the lemma its predicted rule makes is the gold lemma (two
rules can make the same lemma of a word, so this can exceed the accuracy on rules, test/acc)."""

from __future__ import annotations

from collections.abc import Sequence

from postag.analysis.error_analysis import Token
from postag.data.corpus import Sentence
from postag.data.lemmas import LEMMA_COLUMN, outputs


def gold_outputs(sentences: Sequence[Sentence], tag_column: str) -> list[Sentence]:
    """(words, what a right tagger gives) of each sentence: lemmas where the tags are lemma rules."""
    if tag_column != LEMMA_COLUMN:
        return list(sentences)
    return [(words, outputs(words, tags, tag_column)) for words, tags in sentences]


def lemma_scores(tokens: Sequence[Token]) -> dict[str, float]:
    """test/lemma_acc over every word, and over words training saw (_known) and did not (_oov)."""
    def accuracy(chosen: list[Token]) -> float:
        return sum(t.correct for t in chosen) / len(chosen) if chosen else float("nan")

    return {
        "test/lemma_acc": accuracy(list(tokens)),
        "test/lemma_acc_known": accuracy([t for t in tokens if t.known]),
        "test/lemma_acc_oov": accuracy([t for t in tokens if not t.known]),
    }


def lemma_summary(metrics: dict) -> str | None:
    """The line train.py and evaluate.py print for a model of lemmas, else None."""
    if "test/lemma_acc" not in metrics:
        return None
    return (f"test lemma accuracy: {metrics['test/lemma_acc']:.4f} (known words {metrics['test/lemma_acc_known']:.4f}, "
            f"unseen {metrics['test/lemma_acc_oov']:.4f})")
