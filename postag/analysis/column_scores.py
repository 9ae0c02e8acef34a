"""Scores of a model by the columns its tags stand for, as UD's evaluation script counts them with
gold tokenisation: for a model of lemma rules, the lemmas the rules make (two rules can make the
same lemma of a word, so this can exceed the accuracy on rules, test/acc); for a joint tag
(``upos+xpos+feats``), each column's value (test/acc is then all of them right, a lemma
rule included)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from postag.analysis.error_analysis import Token
from postag.analysis.report import tag_row
from postag.analysis.spans import spans_per_type
from postag.data.span_tags import span_column
from postag.data.corpus import Sentence
from postag.data.lemmas import LEMMA_COLUMN
from postag.data.tag_columns import JOINT, joint_values, outputs, tag_column_names


# the name of the span types' table among column_per_tag's (test_spans_per_tag.md)
SPANS = "spans"


def scored_by_column(tag_column: str, tag_names: Sequence[str]) -> bool:
    """Whether a model of ``tag_column`` with tags ``tag_names`` has scores or tables of its own
    beyond test/acc and its per-tag table: lemmas, a joint tag's columns, span types."""
    count = len(tag_column_names(tag_column))
    return tag_column == LEMMA_COLUMN or JOINT in tag_column or span_column(tag_names, count) is not None


def gold_outputs(sentences: Sequence[Sentence], tag_column: str) -> list[Sentence]:
    """(words, what a right tagger gives) of each sentence: lemmas where the tags hold lemma rules."""
    if LEMMA_COLUMN not in tag_column_names(tag_column):
        return list(sentences)
    return [(words, outputs(words, tags, tag_column)) for words, tags in sentences]


def _accuracies(name: str, right: Sequence[tuple[bool, bool]]) -> dict[str, float]:
    """test/{name}_acc over every word, and over words training saw (_known) and did not (_oov);
    ``right``: (correct, known) of each word."""
    def accuracy(chosen: list[bool]) -> float:
        return sum(chosen) / len(chosen) if chosen else float("nan")

    return {
        f"test/{name}_acc": accuracy([c for c, _ in right]),
        f"test/{name}_acc_known": accuracy([c for c, k in right if k]),
        f"test/{name}_acc_oov": accuracy([c for c, k in right if not k]),
    }


def column_scores(tokens: Sequence[Token], tag_column: str) -> dict[str, float]:
    """The scores of ``scored_by_column``, from the test tokens with their gold and predicted outputs."""
    if tag_column == LEMMA_COLUMN:
        return _accuracies(LEMMA_COLUMN, [(t.correct, t.known) for t in tokens])
    scores = {}
    if JOINT in tag_column:
        names = tag_column_names(tag_column)
        # each token's values split once: (gold values, predicted values, known)
        split = [(joint_values(t.gold, len(names)), joint_values(t.predicted, len(names)), t.known) for t in tokens]
        for i, name in enumerate(names):
            scores.update(_accuracies(name, [(gold[i] == predicted[i], known) for gold, predicted, known in split]))
    return scores


def column_per_tag(tokens: Sequence[Token], tag_column: str, tag_names: Sequence[str] = ()) -> dict[str, list[dict]]:
    """Each column of a joint tag's per-tag rows (postag.analysis.report.FIELDS), counted over
    its values, by column name; where ``tag_names`` (the model's tags) have a column of span tags,
    also its span types' rows (``spans``). Lemmas are left out: one row a lemma says little."""
    names = tag_column_names(tag_column)
    column = span_column(tag_names, len(names))
    tables = {} if column is None else {SPANS: spans_per_type(tokens, column, len(names))}
    if len(names) == 1:
        return tables
    split = [(joint_values(t.gold, len(names)), joint_values(t.predicted, len(names))) for t in tokens]
    for i, name in enumerate(names):
        if name == LEMMA_COLUMN:
            continue
        support = Counter(gold[i] for gold, _ in split)
        predicted = Counter(pred[i] for _, pred in split)
        correct = Counter(gold[i] for gold, pred in split if gold[i] == pred[i])
        tables[name] = [tag_row(value, support[value], predicted[value], correct[value]) for value in sorted(support)]
    return tables


def column_summary(metrics: dict) -> str | None:
    """The lines train.py and evaluate.py print for the scores of ``column_scores``, else None."""
    names = [key[len("test/"):-len("_acc")] for key in metrics if key.startswith("test/") and key.endswith("_acc")
             and key != "test/acc" and f"{key}_oov" in metrics]
    if not names:
        return None
    return "\n".join(
        f"test {name} accuracy: {metrics[f'test/{name}_acc']:.4f} (known words {metrics[f'test/{name}_acc_known']:.4f}, "
        f"unseen {metrics[f'test/{name}_acc_oov']:.4f})" for name in names
    )
