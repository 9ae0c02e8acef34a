"""Span scores as conlleval counts them: the span rules on well- and ill-formed sequences, the
scores, the metric over padded batches, and a chunker trained and scored end to end."""

import json
import re
from collections import Counter

import pytest
import torch

from conftest import FIXTURES, SMALL_MODEL, exported_and_spacy_tags, postag_cli, run
from postag.analysis.spans import SpanF1, scores, span_counts, span_summary, spans, spans_per_type
from postag.data.span_tags import continues, is_span_tagging, span_column_names
from postag.analysis.column_scores import column_per_tag
from postag.analysis.error_analysis import Token
from postag.app.tagger import Tagger
from postag.data import make_reader, read_conll
from postag.data.formats import check_columns
from postag.errors import UnknownTagError


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


def test_span_types_are_counted_per_sentence_from_the_span_column():
    tokens = [Token(0, 0, "The", "DT B-NP", "DT B-NP", True), Token(0, 1, "cat", "NN I-NP", "NN I-NP", True),
              Token(1, 0, "Dogs", "NNS B-NP", "NNS I-NP", False), Token(1, 1, "bark", "VBP B-VP", "VBP O", True),
              Token(1, 2, "loudly", "RB O", "RB B-VP", True)]
    rows = {row["tag"]: row for row in spans_per_type(tokens, 1, 2)}
    # NP: gold and predicted (0, 0-1) and (1, 0), both right: a sentence's first I-NP opens a span of its own
    assert (rows["NP"]["support"], rows["NP"]["precision"], rows["NP"]["recall"]) == (2, 1.0, 1.0)
    # VP: gold (1, 1), predicted (1, 2): wrong
    assert (rows["VP"]["support"], rows["VP"]["precision"], rows["VP"]["recall"], rows["VP"]["f1"]) == (1, 0.0, 0.0, 0.0)
    assert set(rows) == {"NP", "VP"}
    assert column_per_tag(tokens, "xpos+chunk", ["DT B-NP", "NN I-NP", "VBP B-VP", "RB O"])["spans"] == list(rows.values())
    assert "spans" not in column_per_tag(tokens, "xpos+chunk", ["DT NN", "NN NN"])  # no span tags among the model's


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
    span_rows = (out / "test_spans_per_tag.md").read_text().splitlines()[2:]
    assert "| NP |" in "\n".join(span_rows) and "| B-NP |" not in "\n".join(span_rows)
    evaluated = run("evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", "data.tag_column=chunk",
                    f"data.data_dir={FIXTURES}", f"hydra.run.dir={tmp_path / 'evaluate'}")
    assert "test span F1: " in evaluated.stdout
    assert span_summary(json.loads((tmp_path / "evaluate" / "metrics.json").read_text())) in evaluated.stdout


def test_conll2000s_tag_column_is_pos_chunk_or_both(tmp_path):
    readers = {name: make_reader("conll2000", tag_column=name) for name in ("pos", "chunk", "pos+chunk", "chunk+pos")}
    assert {name: r.tag_columns for name, r in readers.items()} == {"pos": [1], "chunk": [2], "pos+chunk": [1, 2], "chunk+pos": [2, 1]}
    assert {name: r.conllu_column for name, r in readers.items()} == {"pos": "xpos", "chunk": "chunk", "pos+chunk": "xpos+chunk", "chunk+pos": "chunk+xpos"}
    assert make_reader("conll2000").tag_columns == [1] and make_reader("conll2000", tag_column=["pos", "chunk"]).tag_columns == [1, 2]
    path = tmp_path / "train.txt"
    path.write_text("The DT B-NP\ncat NN I-NP\n\n", encoding="utf-8")
    assert readers["pos+chunk"].read(path) == [(["The", "cat"], ["DT B-NP", "NN I-NP"])]
    for bad in ("ner", "pos+pos", "pos+ner"):
        with pytest.raises(ValueError, match=rf"data.tag_column='{re.escape(bad)}': expected pos, chunk or both"):
            make_reader("conll2000", tag_column=bad)
    with pytest.raises(ValueError, match=r"^data.tag_column=\[1, 2\]: name each column for data=columns, as "
                                         r"'data.tag_column=\{xpos:1,chunk:2\}' \(one of upos, xpos, chunk each\)$"):
        make_reader("columns", tag_column=[1, 2])


def test_a_column_files_columns_are_named_by_what_they_hold():
    """data=columns takes several tag columns as {name: number}, in the joint tag's order."""
    reader = make_reader("columns", word_column=1, tag_column={"xpos": 2, "chunk": 0})
    assert (reader.tag_columns, reader.conllu_column) == ([2, 0], "xpos+chunk")
    assert make_reader("columns", tag_column=3).conllu_column == "xpos"  # one column: as before
    assert make_reader("columns", tag_column={"upos": 3}).conllu_column == "upos"
    for bad, message in (
        ({"ner": 2}, r"^data.tag_column: ner is not a column postag writes from a column file; expected upos, xpos, chunk"),
        ({"xpos": 0}, r"^data.word_column and data.tag_column are both 0"),
        ({"xpos": "2"}, r"^data.tag_column='2': expected a column number"),
    ):
        with pytest.raises(ValueError, match=message):
            make_reader("columns", tag_column=bad)
    with pytest.raises(ValueError, match=r"^data.tag_column=\{'xpos': 1\}: columns by name and number are for data=columns"):
        make_reader("conllu", tag_column={"xpos": 1})
    with pytest.raises(UnknownTagError, match=r"^m.ckpt: a model of the xpos\+chunk column, but the data asks for xpos "
                                              r"\(set data.tag_column=\{xpos:N,chunk:N\}\)$"):
        check_columns("m.ckpt", "xpos+chunk", make_reader("columns", tag_column=1))
    check_columns("m.ckpt", "upos", make_reader("columns", tag_column=1))  # one column each: any tag set


def test_a_checkpoints_columns_are_checked_against_conll2000s_by_their_number():
    check_columns("ud.ckpt", "upos", make_reader("conll2000"))  # one column each: scored, as a treebank's model is
    check_columns("pos.ckpt", "xpos", make_reader("conll2000", tag_column="chunk"))
    with pytest.raises(UnknownTagError, match=r"^ud.ckpt: a model of the upos\+xpos column, but the data asks for "
                                              r"xpos \(set data.tag_column=upos\+pos\)$"):
        check_columns("ud.ckpt", "upos+xpos", make_reader("conll2000"))


def test_the_span_column_of_a_joint_tag_is_the_one_scored_as_spans():
    assert span_column_names(["B-NP", "O"]) == ["B-NP", "O"]
    assert span_column_names(["DT B-NP", "NN I-NP", ". O"], 2) == ["B-NP", "I-NP", "O"]
    assert span_column_names(["B-NP DT", "O ."], 2) == ["B-NP", "O"]
    assert span_column_names(["DT B-NP"], 1) is None and span_column_names(["NOUN NN", "VERB VB"], 2) is None


def test_pos_and_chunks_train_as_one_model(tmp_path):
    """data.tag_column=[pos,chunk]: each column scored, the chunks as spans, every span opened with
    B as in training, and every output (tsv, inline, CoNLL-U's XPOS and MISC, spaCy) gives both."""
    out = tmp_path / "run"
    result = run("train.py", "trainer.max_epochs=3", "data.tag_column=[pos,chunk]", f"data.data_dir={FIXTURES}",
                 "data.val_fraction=0.2", f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    sentences = read_conll(FIXTURES / "test.txt")
    ckpt = out / "checkpoints" / "last.ckpt"
    tagger = Tagger.load(metrics["tested_checkpoint"], device="cpu")
    predicted = tagger.tag_sentences([words for words, _ in sentences])
    assert tagger.vocab.spans_open_with_b  # the fixture's chunks are IOB2
    assert all(continues(previous.split()[1], tag.split()[1]) for tags in predicted for previous, tag in zip(["_ O", *tags], tags))
    gold = make_reader("conll2000", tag_column="pos+chunk").read(FIXTURES / "test.txt")
    counts = sum((span_counts([t.split()[1] for t in tags], [t.split()[1] for t in guess])
                  for (_, tags), guess in zip(gold, predicted)), Counter())
    assert metrics["test/span_f1"] == pytest.approx(scores(counts)["f1"], abs=1e-6)
    span_rows = (out / "test_spans_per_tag.md").read_text().splitlines()[2:]  # one row a span type
    assert sum(int(row.split(" | ")[1]) for row in span_rows) == counts["gold"]
    pairs = [(g, p) for (_, tags), guess in zip(gold, predicted) for g, p in zip(tags, guess)]
    for k, name in enumerate(("xpos", "chunk")):
        assert metrics[f"test/{name}_acc"] == pytest.approx(sum(g.split()[k] == p.split()[k] for g, p in pairs) / len(pairs))
        assert f"test {name} accuracy: " in result.stdout
    assert span_summary(metrics) in result.stdout and (out / "test_chunk_per_tag.md").is_file()
    evaluated = run("evaluate.py", f"ckpt_path={metrics['tested_checkpoint']}", "data.tag_column=[pos,chunk]",
                    f"data.data_dir={FIXTURES}", f"hydra.run.dir={tmp_path / 'evaluate'}")
    assert span_summary(metrics) in evaluated.stdout
    refused = run("evaluate.py", f"ckpt_path={metrics['tested_checkpoint']}", f"data.data_dir={FIXTURES}",
                  f"hydra.run.dir={tmp_path / 'evaluate-pos'}", check=False)
    assert refused.returncode != 0 and refused.stderr.strip().splitlines()[-1].endswith(
        "a model of the xpos+chunk column, but the data asks for xpos (set data.tag_column=pos+chunk)")

    words = sentences[0][0]
    tags = Tagger.load(ckpt, device="cpu").tag(words)
    text = " ".join(words).encode()
    tsv = postag_cli("tag", "--ckpt", ckpt, stdin=text).stdout.decode().splitlines()
    assert [line.split("\t") for line in tsv[:-1]] == [[w, *t.split()] for w, t in zip(words, tags)]
    inline = postag_cli("tag", "--ckpt", ckpt, "--format", "inline", stdin=text).stdout.decode()
    assert inline.split() == [f"{w}/{t.replace(' ', '/')}" for w, t in zip(words, tags)]
    conllu = postag_cli("tag", "--ckpt", ckpt, "--format", "conllu", stdin=text).stdout.decode()
    rows = [line.split("\t") for line in conllu.splitlines() if line]
    assert [(r[4], r[9]) for r in rows] == [(t.split()[0], f"Chunk={t.split()[1]}") for t in tags]
    every = [words for words, _ in sentences]
    runtime_tags, doc = exported_and_spacy_tags(ckpt, tmp_path / "exported", every)  # ONNX, and spaCy's first sentence
    assert runtime_tags == Tagger.load(ckpt, device="cpu").tag_sentences(every)
    assert [f"{t.tag_} {t._.chunk}" for t in doc] == tags


def test_pos_and_chunks_of_a_column_file_train_as_one_model(tmp_path):
    """data=columns 'data.tag_column={xpos:2,chunk:0}' on CHUNK WORD POS lines: both columns scored,
    the chunks as spans, each written where its name says; a model of one column is refused."""
    for split in ("train", "test"):
        lines = [" ".join((chunk, word, pos)) if line.strip() else ""
                 for line in (FIXTURES / f"{split}.txt").read_text(encoding="utf-8").splitlines()
                 for word, pos, chunk in [line.split() or ("", "", "")]]
        (tmp_path / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = ("data=columns", f"data.data_dir={tmp_path}", "data.word_column=1", "data.val_fraction=0.2")
    out = tmp_path / "run"
    result = run("train.py", "trainer.max_epochs=2", *data, "data.tag_column={xpos:2,chunk:0}",
                 f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test/xpos_acc", "test/chunk_acc", "test/span_f1"} <= set(metrics) and span_summary(metrics) in result.stdout
    # the same sentences and joint tags as CoNLL-2000's [pos,chunk]: the same run, to the last digit
    conll2000 = tmp_path / "conll2000"
    run("train.py", "trainer.max_epochs=2", f"data.data_dir={FIXTURES}", "data.val_fraction=0.2",
        "data.tag_column=[pos,chunk]", f"hydra.run.dir={conll2000}", *SMALL_MODEL)
    same = json.loads((conll2000 / "metrics.json").read_text())
    scored = ("test/acc", "test/xpos_acc", "test/chunk_acc", "test/span_f1", "val/acc")
    assert {k: metrics[k] for k in scored} == {k: same[k] for k in scored}
    tagger = Tagger.load(metrics["tested_checkpoint"], device="cpu")
    assert tagger.conllu_column == "xpos+chunk"
    words = read_conll(FIXTURES / "test.txt")[0][0]
    tags = tagger.tag(words)
    conllu = postag_cli("tag", "--ckpt", metrics["tested_checkpoint"], "--format", "conllu",
                        stdin=" ".join(words).encode()).stdout.decode()
    rows = [line.split("\t") for line in conllu.splitlines() if line]
    assert [(r[4], r[9]) for r in rows] == [(t.split()[0], f"Chunk={t.split()[1]}") for t in tags]
    refused = run("evaluate.py", f"ckpt_path={metrics['tested_checkpoint']}", *data, "data.tag_column=2",
                  f"hydra.run.dir={tmp_path / 'evaluate'}", check=False)
    assert refused.returncode != 0 and refused.stderr.strip().splitlines()[-1].endswith(
        "a model of the xpos+chunk column, but the data asks for xpos (set data.tag_column={xpos:N,chunk:N})")
