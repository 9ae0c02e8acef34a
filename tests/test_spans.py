"""Span scores as conlleval counts them: the span rules on well- and ill-formed sequences, the
scores, the metric over padded batches, and a chunker trained and scored end to end."""

import json
from collections import Counter

import pytest
import torch

from conftest import FIXTURES, SMALL_MODEL, run
from postag.analysis.spans import SpanF1, is_span_tagging, scores, span_counts, span_summary, spans


@pytest.mark.parametrize(
    "tags, expected",
    [
        ("B-NP I-NP O B-VP", {(0, 1, "NP"), (3, 3, "VP")}),
        ("B-NP B-NP I-NP", {(0, 0, "NP"), (1, 2, "NP")}),
        ("O I-NP I-NP O", {(1, 2, "NP")}),  # an I after O opens a span (IOB1, or an ill-formed IOB2)
        ("I-NP I-VP I-VP B-VP", {(0, 0, "NP"), (1, 2, "VP"), (3, 3, "VP")}),  # a type change opens one
        ("B-NP I-VP", {(0, 0, "NP"), (1, 1, "VP")}),
        ("I-NP E-NP E-NP I-NP", {(0, 1, "NP"), (2, 2, "NP"), (3, 3, "NP")}),  # IOE: E closes
        ("E-NP B-NP", {(0, 1, "NP")}),  # conlleval joins them: neither E-B rule exists
        ("O O", set()),
        ("", set()),
    ],
)
def test_spans_follow_conllevals_rules(tags, expected):
    assert spans(tags.split()) == expected


def test_counts_and_scores_over_all_types_and_each():
    counts = span_counts("B-NP I-NP O B-VP".split(), "B-NP B-NP O I-VP".split())
    assert (counts["gold"], counts["predicted"], counts["correct"]) == (2, 3, 1)
    assert scores(counts) == pytest.approx({"precision": 1 / 3, "recall": 1 / 2, "f1": 0.4})
    assert scores(counts, "VP") == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0})
    assert scores(counts, "NP") == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0})
    assert scores(Counter()) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_only_span_tag_sets_are_scored_as_spans():
    assert is_span_tagging(["B-NP", "I-NP", "O", "B-VP"]) and is_span_tagging(["I-PER", "O"])
    assert not is_span_tagging(["NN", "VB", "O"]) and not is_span_tagging(["O"]) and not is_span_tagging(["B-"])


def test_the_metric_reads_real_tokens_only_and_unseen_gold_tags_as_outside():
    names = ["B-NP", "I-NP", "O"]
    metric = SpanF1(names, ignore_index=-100)
    labels = torch.tensor([[0, 1, 2, -100], [0, 3, 2, 0]])  # 3: a gold tag the model never had
    preds = torch.tensor([[0, 1, 2, 0], [0, 1, 2, 0]])  # the padded slot's prediction is not read
    metric.update(preds, labels)
    # sentence 1: NP(0-1) right; sentence 2: gold NP(0) O O NP(3), predicted NP(0-1) NP(3)
    assert (int(metric.gold), int(metric.predicted), int(metric.correct)) == (3, 3, 2)
    assert {k: float(v) for k, v in metric.compute().items()} == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_a_chunker_trains_on_conll2000s_chunk_column_and_is_scored_as_spans(tmp_path):
    out = tmp_path / "run"
    result = run(
        "train.py", "debug=limit", "trainer.max_epochs=2", "data.tag_column=chunk", f"data.data_dir={FIXTURES}",
        "data.val_fraction=0.2", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test/span_f1"] <= 1.0 and "test/span_precision" in metrics
    assert span_summary(metrics) in result.stdout
    rows = (out / "test_per_tag.md").read_text()
    assert "| B-NP |" in rows and "| NN |" not in rows  # the chunk column, not the POS column
    evaluated = run("evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", "data.tag_column=chunk",
                    f"data.data_dir={FIXTURES}", f"hydra.run.dir={tmp_path / 'evaluate'}")
    assert "test span F1: " in evaluated.stdout
    assert span_summary(json.loads((tmp_path / "evaluate" / "metrics.json").read_text())) in evaluated.stdout


def test_conll2000s_tag_column_is_pos_or_chunk(tmp_path):
    from postag.data import make_reader

    assert make_reader("conll2000").tag_column == 1 and make_reader("conll2000", tag_column="chunk").tag_column == 2
    with pytest.raises(ValueError, match="data.tag_column='ner': expected pos or chunk for CoNLL-2000"):
        make_reader("conll2000", tag_column="ner")
